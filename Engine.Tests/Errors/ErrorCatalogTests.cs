using System.Text;
using Engine.Errors;

namespace Engine.Tests.Errors;

public class ErrorCatalogTests
{
    // The catalog table of spec/errors.md, copied by hand: the contract the code must keep.
    public static TheoryData<ErrorCode, int, string, string> Spec => new()
    {
        { ErrorCode.BadRequest, 400, "BAD_REQUEST", "fix" },
        { ErrorCode.ErrInvalidValue, 400, "ERR_INVALID_VALUE", "fix" },
        { ErrorCode.ErrMissingParams, 400, "ERR_MISSING_PARAMS", "fix" },
        { ErrorCode.ErrUnknownParam, 400, "ERR_UNKNOWN_PARAM", "fix" },
        { ErrorCode.ErrDuplicateParam, 400, "ERR_DUPLICATE_PARAM", "fix" },
        { ErrorCode.ErrInvalidCombination, 400, "ERR_INVALID_COMBINATION", "fix" },
        { ErrorCode.ErrParamNotAllowed, 400, "ERR_PARAM_NOT_ALLOWED", "fix" },
        { ErrorCode.Disallowed, 403, "DISALLOWED", "abort" },
        { ErrorCode.ErrAuthRequired, 407, "ERR_AUTH_REQUIRED", "fix" },
        { ErrorCode.AuthFailed, 407, "AUTH_FAILED", "fix" },
        { ErrorCode.IpNotAllowed, 407, "IP_NOT_ALLOWED", "fix" },
        { ErrorCode.PackageSuspended, 407, "PACKAGE_SUSPENDED", "abort" },
        { ErrorCode.PackagePaused, 407, "PACKAGE_PAUSED", "abort" },
        { ErrorCode.PackageNoCredits, 407, "PACKAGE_NO_CREDITS", "abort" },
        { ErrorCode.SessionParamsMismatch, 409, "SESSION_PARAMS_MISMATCH", "fix" },
        { ErrorCode.RateLimitExceeded, 429, "RATE_LIMIT_EXCEEDED", "backoff" },
        { ErrorCode.TrafficLimitExceeded, 429, "TRAFFIC_LIMIT_EXCEEDED", "abort" },
        { ErrorCode.NodeUnavailable, 502, "NODE_UNAVAILABLE", "retry" },
        { ErrorCode.NodeNotFound, 502, "NODE_NOT_FOUND", "fix" },
        { ErrorCode.RetriesExhausted, 502, "RETRIES_EXHAUSTED", "backoff" },
        { ErrorCode.NameNotResolved, 502, "NAME_NOT_RESOLVED", "abort" },
        { ErrorCode.TargetConnectFailed, 502, "TARGET_CONNECT_FAILED", "retry" },
        { ErrorCode.TargetReset, 502, "TARGET_RESET", "retry" },
        { ErrorCode.BoundNodeFailed, 503, "BOUND_NODE_FAILED", "fix" },
        { ErrorCode.DomainCircuitOpen, 503, "DOMAIN_CIRCUIT_OPEN", "backoff" },
        { ErrorCode.Overloaded, 503, "OVERLOADED", "backoff" },
        { ErrorCode.GatewayTimeout, 504, "GATEWAY_TIMEOUT", "backoff" },
        { ErrorCode.NoProxy, 557, "NO_PROXY", "backoff" },
        { ErrorCode.WrongUrl, 557, "WRONG_URL", "fix" },
        { ErrorCode.BuildRequest, 557, "BUILD_REQUEST", "retry" },
        { ErrorCode.BuildConnect, 557, "BUILD_CONNECT", "retry" },
        { ErrorCode.SocketError, 557, "SOCKET_ERROR", "retry" },
        { ErrorCode.RequestError, 557, "REQUEST_ERROR", "retry" },
        { ErrorCode.ResponseError, 557, "RESPONSE_ERROR", "retry" },
        { ErrorCode.UriTooLong, 414, "URI_TOO_LONG", "fix" },
        { ErrorCode.RequestTimeout, 408, "REQUEST_TIMEOUT", "fix" },
        { ErrorCode.HeadersTooLarge, 431, "HEADERS_TOO_LARGE", "fix" },
        { ErrorCode.NotImplemented, 501, "NOT_IMPLEMENTED", "fix" },
        { ErrorCode.VersionNotSupported, 505, "VERSION_NOT_SUPPORTED", "fix" },
        { ErrorCode.InternalError, 500, "INTERNAL_ERROR", "retry" },
    };

    [Theory]
    [MemberData(nameof(Spec))]
    public void Get_SpecRow_MatchesStatusCodeAndRetryClass(ErrorCode code, int status, string name, string retry)
    {
        ErrorDescriptor row = ErrorCatalog.Get(code);
        Assert.Equal(code, row.Code);
        Assert.Equal(status, row.Status);
        Assert.Equal(name, row.Name);
        Assert.Equal(retry, WireNames.Of(row.Retry));
    }

    [Fact]
    public void Spec_CoversEveryCodeButWriteError()
    {
        var listed = Spec.Select(row => (ErrorCode)row[0]).ToHashSet();
        var expected = ErrorExample.Codes.Where(c => c != ErrorCode.WriteError).ToHashSet();
        Assert.Equal(expected.Order(), listed.Order());
    }

    [Fact]
    public void Get_EveryCode_HasARowWhoseNameIsTheEnumMemberInScreamingSnakeCase()
    {
        foreach (ErrorCode code in ErrorExample.Codes)
        {
            ErrorDescriptor row = ErrorCatalog.Get(code);
            Assert.Equal(code, row.Code);
            Assert.Equal(ScreamingSnake(code.ToString()), row.Name);
        }
    }

    [Fact]
    public void All_NamesAreUnique()
    {
        string[] names = ErrorExample.Codes.Select(c => ErrorCatalog.Get(c).Name).ToArray();
        Assert.Equal(names.Length, names.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Get_None_Throws() => Assert.Throws<ArgumentOutOfRangeException>(() => ErrorCatalog.Get(ErrorCode.None));

    [Fact]
    public void Get_OutOfRange_Throws() => Assert.Throws<ArgumentOutOfRangeException>(() => ErrorCatalog.Get((ErrorCode)200));

    [Fact]
    public void ProxyAuthenticate_IsSentOnEvery407AndOnlyThere()
    {
        foreach (ErrorCode code in ErrorExample.Codes)
        {
            ErrorDescriptor row = ErrorCatalog.Get(code);
            Assert.Equal(row.Status == 407, row.SendsProxyAuthenticate);
        }
    }

    [Fact]
    public void RetryAfter_IsUsualOnEvery429And503()
    {
        foreach (ErrorCode code in ErrorExample.Codes)
        {
            ErrorDescriptor row = ErrorCatalog.Get(code);
            if (row.Status is 429 or 503)
            {
                Assert.True(row.RetryAfterUsual, row.Name);
            }
        }
    }

    // spec/errors.md: Retry-After on 429, 503, 557 NO_PROXY and every backoff code; a cap without a period
    // (TRAFFIC_LIMIT_EXCEEDED) has no wait to announce, so only the caller can give one.
    [Fact]
    public void DefaultRetryAfter_IsSetOnEvery503NoProxyAndBackoffCode_AndNowhereElse()
    {
        foreach (ErrorCode code in ErrorExample.Codes)
        {
            ErrorDescriptor row = ErrorCatalog.Get(code);
            bool promised = row.Status == 503 || code == ErrorCode.NoProxy || row.Retry == RetryClass.Backoff;
            Assert.Equal(promised, row.DefaultRetryAfterSeconds > 0);
            if (promised)
            {
                Assert.True(row.RetryAfterUsual, row.Name);
            }
        }

        Assert.Equal(-1, ErrorCatalog.Get(ErrorCode.TrafficLimitExceeded).DefaultRetryAfterSeconds);
        Assert.Equal(ErrorCategory.Engine, ErrorCatalog.Get(ErrorCode.InternalError).Category);
    }

    [Fact]
    public void DefaultDetail_IsOneLineOfPrintableAscii()
    {
        foreach (ErrorCode code in ErrorExample.Codes)
        {
            ErrorDescriptor row = ErrorCatalog.Get(code);
            Assert.NotEmpty(row.DefaultDetail);
            Assert.All(row.DefaultDetail, c => Assert.InRange(c, ' ', '~'));
            Assert.NotEmpty(row.Title);
            Assert.NotEmpty(row.ReasonPhrase);
        }
    }

    [Fact]
    public void Socks5_AuthStageCodesFailAuthenticationAndEveryReplyIsAFailure()
    {
        foreach (ErrorCode code in ErrorExample.Codes)
        {
            ErrorDescriptor row = ErrorCatalog.Get(code);
            Assert.InRange((byte)row.Socks5Reply, (byte)0x01, (byte)0x08);
            // Found at the RFC 1929 step: what authentication says (credentials, allowlist, account status) and the
            // rules in the username. Credits (admission) and a session's rules (routing) are found at the request.
            bool authStage = row.Category is ErrorCategory.Auth or ErrorCategory.Validation
                || code is ErrorCode.PackagePaused or ErrorCode.PackageSuspended;
            Assert.Equal(authStage, row.Socks5AuthFailure);
        }

        Assert.Equal(Socks5Reply.HostUnreachable, ErrorCatalog.Get(ErrorCode.NameNotResolved).Socks5Reply);
        Assert.Equal(Socks5Reply.ConnectionRefused, ErrorCatalog.Get(ErrorCode.TargetConnectFailed).Socks5Reply);
        Assert.Equal(Socks5Reply.TtlExpired, ErrorCatalog.Get(ErrorCode.GatewayTimeout).Socks5Reply);
        Assert.Equal(Socks5Reply.NotAllowedByRuleset, ErrorCatalog.Get(ErrorCode.Disallowed).Socks5Reply);
        Assert.Equal(Socks5Reply.CommandNotSupported, ErrorCatalog.Get(ErrorCode.NotImplemented).Socks5Reply);
    }

    [Fact]
    public void Only_WriteError_IsLogOnly()
    {
        foreach (ErrorCode code in ErrorExample.Codes)
        {
            Assert.Equal(code == ErrorCode.WriteError, ErrorCatalog.Get(code).LogOnly);
        }
    }

    private static string ScreamingSnake(string pascal)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < pascal.Length; i++)
        {
            if (i > 0 && char.IsUpper(pascal[i]))
            {
                sb.Append('_');
            }

            sb.Append(char.ToUpperInvariant(pascal[i]));
        }

        return sb.ToString();
    }
}
