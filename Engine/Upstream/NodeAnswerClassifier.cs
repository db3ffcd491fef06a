using System.Buffers.Text;
using System.Text;
using Engine.Errors;
using Engine.Forwarding;
using Engine.Http;

namespace Engine.Upstream;

/// <summary>
/// Reads a node's (upstream HTTP proxy's) response head for the proxy error signals that widely used proxies
/// and providers document, and decides: the target's own answer (relay it untouched), a target failure
/// (NAME_NOT_RESOLVED, TARGET_CONNECT_FAILED, TARGET_RESET, GATEWAY_TIMEOUT, …: answer with it, no failover),
/// or a node failure (NODE_UNAVAILABLE, BUILD_REQUEST / BUILD_CONNECT: fail over as for a refused connect).
/// A table, one row per signal, first match wins; spec/errors.md and docs/errors.md ("Errors from nodes")
/// show it. Pure and allocation-free over the parsed head.
/// </summary>
/// <remarks>
/// <para>Plain HTTP through a node: a status below 400 is always the target's. A signal on a 4xx/5xx means the
/// node wrote the answer itself; without one the answer is the target's, whatever its status (a 502 from a
/// website is the website's). The engine strips X-Proxy-Error from every response it forwards, so a chained
/// engine's X-Proxy-Error is its own. Other signals could be sent by a target through a node that does not
/// strip them; the worst it can do is be answered as the error it claims to be, or make the engine try
/// another node.</para>
/// <para>CONNECT: any non-2xx answer is the node's (no target has spoken yet); without a signal the status
/// decides (<see cref="NodeSignal.ConnectStatus"/>: a 405/501 means the node does not tunnel, BUILD_CONNECT).</para>
/// <para>Sources of the rows: RFC 9209 §2.3 (Proxy-Status error types); Squid's X-Squid-Error and tinyproxy's
/// pages as captured from squid 5.7 and tinyproxy 1.11.1 (Engine.Tests/Upstream/NodeAnswers); SOAX,
/// https://developers.soax.com/troubleshooting/error-codes (X-SOAX-Error / X-SOAX-Detail, the catalog this one
/// follows); Bright Data, https://docs.brightdata.com/proxy-networks/errorCatalog (x-brd-err-code and
/// x-brd-err-msg, Proxy-Status since 2025-10); Zyte Smart Proxy Manager,
/// https://docs.zyte.com/smart-proxy-manager/errors.html (X-Crawlera-Error); Oxylabs,
/// https://developers.oxylabs.io/proxies/mobile-proxies/response-codes (X-Error-Description, "only on errors of
/// our infrastructure"); Scrapoxy, packages/website/usage/errors.md (557 for its own failures). Smartproxy /
/// Decodo documents statuses only, no field that tells its errors from the target's: nothing to read.</para>
/// </remarks>
internal static class NodeAnswerClassifier
{
    private const int ErrnoConnectionTimedOut = 110;   // Linux ETIMEDOUT, as Squid reports it after the error name

    private static readonly byte[][] s_catalogNames = BuildCatalogNames();

    // The table: (signal, what it reads). Order is trust: this project's own catalog first, then the standard,
    // then each product's private field, then what the status line alone can say.
    private static readonly Row[] s_rows =
    [
        new(NodeSignal.EngineError, ReadCatalogCode),
        new(NodeSignal.ProxyStatus, ReadProxyStatus),
        new(NodeSignal.SoaxError, ReadCatalogCode),
        new(NodeSignal.SquidError, ReadSquid),
        new(NodeSignal.BrightDataError, ReadBrightData),
        new(NodeSignal.CrawleraError, ReadCrawlera),
        new(NodeSignal.OxylabsError, ReadOxylabs),
        new(NodeSignal.Tinyproxy, ReadTinyproxy),
        new(NodeSignal.Scrapoxy, ReadScrapoxy),
        new(NodeSignal.ConnectStatus, ReadConnectStatus),
    ];

    private delegate NodeAnswer Reader(NodeSignal signal, ReadOnlySpan<byte> value, int status, bool connect);

    /// <summary>
    /// Classifies <paramref name="head"/> (complete, final) from a node. <paramref name="connect"/>: the answer
    /// to our CONNECT. A default result (<see cref="NodeAnswer.IsError"/> false) means relay it untouched.
    /// </summary>
    public static NodeAnswer Classify(ResponseHead head, bool connect)
    {
        int status = head.StatusCode;
        if (connect ? status is >= 200 and < 300 : status < 400)
        {
            return default;
        }

        // One pass over the fields: where each signal is (the first line; for Proxy-Status the last non-empty one,
        // which holds the list's last member, the node's).
        Span<int> at = stackalloc int[s_rows.Length];
        at.Fill(-1);
        for (int i = 0; i < head.HeaderCount; i++)
        {
            HeaderField field = head.GetHeader(i);
            NodeSignal signal = Identify(field.Name, field.Value);
            if (signal != NodeSignal.None && (at[Index(signal)] < 0 || (signal == NodeSignal.ProxyStatus && !field.Value.IsEmpty)))
            {
                at[Index(signal)] = i;
            }
        }

        foreach (Row row in s_rows)
        {
            ReadOnlySpan<byte> value;
            switch (row.Signal)
            {
                case NodeSignal.Tinyproxy:
                    if (at[Index(NodeSignal.Tinyproxy)] < 0)
                    {
                        continue;
                    }

                    value = head.ReasonPhrase;
                    break;
                case NodeSignal.Scrapoxy:
                    if (status != 557)
                    {
                        continue;
                    }

                    value = head.ReasonPhrase;
                    break;
                case NodeSignal.ConnectStatus:
                    if (!connect)
                    {
                        continue;
                    }

                    value = head.ReasonPhrase;
                    break;
                default:
                    int index = at[Index(row.Signal)];
                    if (index < 0)
                    {
                        continue;
                    }

                    value = head.GetHeader(index).Value;
                    break;
            }

            NodeAnswer answer = row.Read(row.Signal, value, status, connect);
            if (answer.IsError)
            {
                return answer;
            }
        }

        return default;
    }

    /// <summary>
    /// Writes the detail line for the error that replaces the node's answer, e.g. <c>node de-squid answered 503
    /// ERR_DNS_FAIL (X-Squid-Error)</c>; returns the bytes written (<paramref name="destination"/> of
    /// 160 bytes or more always suffices: node ids are cut at 64).
    /// </summary>
    public static int WriteDetail(Span<byte> destination, in NodeAnswer answer, ReadOnlySpan<byte> nodeId)
    {
        var w = new SpanWriter(destination);
        w.Write("node "u8);
        w.Write(nodeId[..Math.Min(nodeId.Length, 64)]);
        w.Write(" answered "u8);
        w.Write(answer.Status);
        if (!answer.ErrorId.IsEmpty)
        {
            w.Write(" "u8);
            w.Write(answer.ErrorId);
        }

        w.Write(" ("u8);
        w.Write(answer.Source);
        w.Write(")"u8);
        return w.Length;
    }

    // :: Rows

    // X-Proxy-Error (a chained engine) and X-SOAX-Error: the same catalog. Target-side codes keep their name
    // and blame; the node's refusals of this request become BUILD_*; everything else says the node failed.
    private static NodeAnswer ReadCatalogCode(NodeSignal s, ReadOnlySpan<byte> value, int status, bool connect)
    {
        ReadOnlySpan<byte> id = FirstToken(value);
        ErrorCode code = CatalogCode(id);
        return code switch
        {
            ErrorCode.NameNotResolved or ErrorCode.TargetConnectFailed or ErrorCode.TargetReset or ErrorCode.GatewayTimeout
                or ErrorCode.ResponseError or ErrorCode.RequestError => Target(code, s, status, id),
            ErrorCode.Disallowed or ErrorCode.BuildRequest or ErrorCode.BuildConnect => Node(CannotCarry(connect), s, status, id),
            _ when id.IsEmpty => default,
            _ => Node(ErrorCode.NodeUnavailable, s, status, id),
        };
    }

    // RFC 9209 §2: the last member is the node's (members run from the origin side to the client side).
    // Without error= the node forwarded an answer: the target's. §2.3 error types → catalog.
    private static NodeAnswer ReadProxyStatus(NodeSignal s, ReadOnlySpan<byte> value, int status, bool connect)
    {
        ReadOnlySpan<byte> type = ProxyStatusError(LastMember(value));
        if (type.IsEmpty)
        {
            return default;
        }

        return type switch
        {
            _ when type.SequenceEqual("dns_error"u8) => Target(ErrorCode.NameNotResolved, s, status, type),
            _ when type.SequenceEqual("dns_timeout"u8) => Target(ErrorCode.GatewayTimeout, s, status, type),
            _ when type.SequenceEqual("destination_unavailable"u8) || type.SequenceEqual("destination_ip_unroutable"u8)
                || type.SequenceEqual("connection_refused"u8) || type.StartsWith("tls_"u8) => Target(ErrorCode.TargetConnectFailed, s, status, type),
            _ when type.SequenceEqual("connection_terminated"u8) || type.SequenceEqual("http_response_incomplete"u8)
                => Target(ErrorCode.TargetReset, s, status, type),
            _ when type.SequenceEqual("connection_timeout"u8) || type.SequenceEqual("connection_read_timeout"u8)
                || type.SequenceEqual("connection_write_timeout"u8) || type.SequenceEqual("http_response_timeout"u8)
                => Target(ErrorCode.GatewayTimeout, s, status, type),
            _ when type.StartsWith("http_response_"u8) || type.SequenceEqual("http_protocol_error"u8) || type.SequenceEqual("http_upgrade_failed"u8)
                => Target(ErrorCode.ResponseError, s, status, type),
            _ when type.SequenceEqual("destination_ip_prohibited"u8) || type.SequenceEqual("http_request_denied"u8)
                || type.SequenceEqual("http_request_error"u8) => Node(CannotCarry(connect), s, status, type),
            // destination_not_found, connection_limit_reached, proxy_internal_*, proxy_configuration_error,
            // proxy_loop_detected, and types registered later: the node failed.
            _ => Node(ErrorCode.NodeUnavailable, s, status, type),
        };
    }

    // X-Squid-Error: "ERR_NAME errno". Squid 5.7 (captured, debug 44,2 "found all 0 destinations") reports a
    // name that does not resolve as ERR_READ_ERROR 0 to a GET and ERR_CANNOT_FORWARD 0 to a CONNECT when no
    // cache_peer is configured; a real read error carries its errno (ERR_READ_ERROR 104 for a reset).
    private static NodeAnswer ReadSquid(NodeSignal s, ReadOnlySpan<byte> value, int status, bool connect)
    {
        ReadOnlySpan<byte> id = FirstToken(value);
        int errno = Errno(value[id.Length..]);
        return id switch
        {
            _ when id.IsEmpty => default,
            _ when id.SequenceEqual("ERR_DNS_FAIL"u8) || id.SequenceEqual("ERR_CANNOT_FORWARD"u8)
                || (id.SequenceEqual("ERR_READ_ERROR"u8) && errno == 0) => Target(ErrorCode.NameNotResolved, s, status, id),
            _ when id.SequenceEqual("ERR_CONNECT_FAIL"u8) => errno == ErrnoConnectionTimedOut
                ? Target(ErrorCode.GatewayTimeout, s, status, id)
                : Target(ErrorCode.TargetConnectFailed, s, status, id),
            _ when id.SequenceEqual("ERR_SECURE_CONNECT_FAIL"u8) => Target(ErrorCode.TargetConnectFailed, s, status, id),
            _ when id.SequenceEqual("ERR_READ_ERROR"u8) || id.SequenceEqual("ERR_ZERO_SIZE_OBJECT"u8) => Target(ErrorCode.TargetReset, s, status, id),
            _ when id.SequenceEqual("ERR_WRITE_ERROR"u8) => Target(ErrorCode.RequestError, s, status, id),
            _ when id.SequenceEqual("ERR_READ_TIMEOUT"u8) || id.SequenceEqual("ERR_LIFETIME_EXP"u8) => Target(ErrorCode.GatewayTimeout, s, status, id),
            _ when id.SequenceEqual("ERR_INVALID_RESP"u8) => Target(ErrorCode.ResponseError, s, status, id),
            _ when id.SequenceEqual("ERR_ACCESS_DENIED"u8) || id.SequenceEqual("ERR_FORWARDING_DENIED"u8) || id.SequenceEqual("ERR_TOO_BIG"u8)
                || id.SequenceEqual("ERR_UNSUP_REQ"u8) || id.SequenceEqual("ERR_UNSUP_HTTPVERSION"u8) || id.SequenceEqual("ERR_INVALID_REQ"u8)
                || id.SequenceEqual("ERR_INVALID_URL"u8) || id.SequenceEqual("ERR_ONLY_IF_CACHED_MISS"u8) || id.SequenceEqual("ERR_CONFLICT_HOST"u8)
                || id.SequenceEqual("ERR_PROTOCOL_UNKNOWN"u8) => Node(CannotCarry(connect), s, status, id),
            // ERR_CACHE_ACCESS_DENIED (our credentials), ERR_SHUTTING_DOWN, ERR_GATEWAY_FAILURE, ERR_ICAP_FAILURE, …
            _ => Node(ErrorCode.NodeUnavailable, s, status, id),
        };
    }

    // Bright Data's private codes are not mapped one by one: its Proxy-Status (read first) says which side
    // failed; alone, x-brd-err-code says the provider refused or failed.
    private static NodeAnswer ReadBrightData(NodeSignal s, ReadOnlySpan<byte> value, int status, bool connect)
    {
        ReadOnlySpan<byte> id = FirstToken(value);
        return id.IsEmpty ? default : Node(ErrorCode.NodeUnavailable, s, status, id);
    }

    // Zyte Smart Proxy Manager's X-Crawlera-Error values.
    private static NodeAnswer ReadCrawlera(NodeSignal s, ReadOnlySpan<byte> value, int status, bool connect)
    {
        ReadOnlySpan<byte> id = FirstToken(value);
        return id switch
        {
            _ when id.IsEmpty => default,
            _ when id.SequenceEqual("nxdomain"u8) => Target(ErrorCode.NameNotResolved, s, status, id),
            _ when id.SequenceEqual("econnrefused"u8) || id.SequenceEqual("ehostunreach"u8) || id.SequenceEqual("ssl_tunnel_error"u8)
                => Target(ErrorCode.TargetConnectFailed, s, status, id),
            _ when id.SequenceEqual("econnreset"u8) || id.SequenceEqual("socket_closed_remotely"u8) => Target(ErrorCode.TargetReset, s, status, id),
            _ when id.SequenceEqual("timeout"u8) || id.SequenceEqual("msgtimeout"u8) => Target(ErrorCode.GatewayTimeout, s, status, id),
            _ when id.SequenceEqual("domain_forbidden"u8) || id.SequenceEqual("bad_uri"u8) || id.SequenceEqual("invalid_request"u8)
                || id.SequenceEqual("bad_header"u8) || id.SequenceEqual("header_auth"u8) || id.SequenceEqual("bad_endpoint"u8)
                => Node(CannotCarry(connect), s, status, id),
            // banned, noslaves, serverbusy, too_many_conns, user_session_limit, bad_session_id, user_suspended, bad_proxy_auth, …
            _ => Node(ErrorCode.NodeUnavailable, s, status, id),
        };
    }

    // Oxylabs documents statuses and a free-text X-Error-Description; the status says the side: 522/504 the
    // target did not answer in time, 503 it could not be reached (DNS or connect), 403 a restricted target,
    // the rest (502 exit node gone or session failed, 525 no exit found, 500, 429, …) the provider.
    private static NodeAnswer ReadOxylabs(NodeSignal s, ReadOnlySpan<byte> value, int status, bool connect)
    {
        return status switch
        {
            522 or 504 => Target(ErrorCode.GatewayTimeout, s, status, value),
            503 => Target(ErrorCode.TargetConnectFailed, s, status, value),
            403 => Node(CannotCarry(connect), s, status, value),
            _ => Node(ErrorCode.NodeUnavailable, s, status, value),
        };
    }

    // tinyproxy 1.11.1 (captured): "500 Unable to connect" for a refused port and a name that does not resolve
    // alike; "503 Could not retrieve all the headers" when the target breaks off mid-head; "403 Access violation"
    // / "403 Filtered" for its ConnectPort and filter rules. The reason phrase is the only id it gives.
    private static NodeAnswer ReadTinyproxy(NodeSignal s, ReadOnlySpan<byte> reason, int status, bool connect)
    {
        return status switch
        {
            500 when reason.SequenceEqual("Unable to connect"u8) => Target(ErrorCode.TargetConnectFailed, s, status, reason),
            503 when reason.SequenceEqual("Could not retrieve all the headers"u8) => Target(ErrorCode.TargetReset, s, status, reason),
            403 => Node(CannotCarry(connect), s, status, reason),
            _ => Node(ErrorCode.NodeUnavailable, s, status, reason),
        };
    }

    // Scrapoxy answers its own failures with 557 (no_proxy, build_request, socket_error, response_error, …).
    private static NodeAnswer ReadScrapoxy(NodeSignal s, ReadOnlySpan<byte> reason, int status, bool connect) =>
        Node(ErrorCode.NodeUnavailable, s, status, reason);

    // A non-2xx answer to our CONNECT with no signal: only the status speaks.
    private static NodeAnswer ReadConnectStatus(NodeSignal s, ReadOnlySpan<byte> reason, int status, bool connect)
    {
        return status switch
        {
            405 or 501 or 403 => Node(ErrorCode.BuildConnect, s, status, reason),
            502 or 503 => Target(ErrorCode.TargetConnectFailed, s, status, reason),
            504 => Target(ErrorCode.GatewayTimeout, s, status, reason),
            _ => Node(ErrorCode.NodeUnavailable, s, status, reason),
        };
    }

    // :: Helpers

    private static NodeAnswer Target(ErrorCode code, NodeSignal signal, int status, ReadOnlySpan<byte> id) =>
        new(NodeAnswerBlame.Target, code, signal, status, id);

    private static NodeAnswer Node(ErrorCode code, NodeSignal signal, int status, ReadOnlySpan<byte> id) =>
        new(NodeAnswerBlame.Node, code, signal, status, id);

    private static ErrorCode CannotCarry(bool connect) => connect ? ErrorCode.BuildConnect : ErrorCode.BuildRequest;

    private static int Index(NodeSignal signal) => (int)signal - 1;

    private static NodeSignal Identify(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) => name.Length switch
    {
        6 => Ascii.EqualsIgnoreCase(name, "server"u8) && value.Length > 10 && Ascii.EqualsIgnoreCase(value[..10], "tinyproxy/"u8)
            ? NodeSignal.Tinyproxy : NodeSignal.None,
        12 => Ascii.EqualsIgnoreCase(name, "proxy-status"u8) ? NodeSignal.ProxyStatus
            : Ascii.EqualsIgnoreCase(name, "x-soax-error"u8) ? NodeSignal.SoaxError : NodeSignal.None,
        13 => Ascii.EqualsIgnoreCase(name, "x-proxy-error"u8) ? NodeSignal.EngineError
            : Ascii.EqualsIgnoreCase(name, "x-squid-error"u8) ? NodeSignal.SquidError : NodeSignal.None,
        14 => Ascii.EqualsIgnoreCase(name, "x-brd-err-code"u8) ? NodeSignal.BrightDataError : NodeSignal.None,
        16 => Ascii.EqualsIgnoreCase(name, "x-crawlera-error"u8) ? NodeSignal.CrawleraError : NodeSignal.None,
        19 => Ascii.EqualsIgnoreCase(name, "x-error-description"u8) ? NodeSignal.OxylabsError : NodeSignal.None,
        _ => NodeSignal.None,
    };

    private static ErrorCode CatalogCode(ReadOnlySpan<byte> name)
    {
        byte[][] names = s_catalogNames;
        for (int i = 1; i < names.Length; i++)
        {
            if (name.SequenceEqual(names[i]))
            {
                return (ErrorCode)i;
            }
        }

        return ErrorCode.None;
    }

    private static byte[][] BuildCatalogNames()
    {
        ReadOnlySpan<ErrorDescriptor> rows = ErrorCatalog.All;
        var names = new byte[rows.Length][];
        names[0] = [];
        for (int i = 1; i < rows.Length; i++)
        {
            names[i] = Encoding.ASCII.GetBytes(rows[i].Name);
        }

        return names;
    }

    // The value's first token: up to a space, tab, ';' or ','.
    private static ReadOnlySpan<byte> FirstToken(ReadOnlySpan<byte> value)
    {
        value = value.TrimStart(" \t"u8);
        int end = value.IndexOfAny(" \t;,"u8);
        return end < 0 ? value : value[..end];
    }

    // The number after Squid's error name; -1 when there is none.
    private static int Errno(ReadOnlySpan<byte> rest)
    {
        rest = rest.Trim(" \t"u8);
        return Utf8Parser.TryParse(rest, out int errno, out int consumed) && consumed == rest.Length ? errno : -1;
    }

    // The last member of an sf-list (RFC 8941 §3.1): after the last comma outside a quoted string.
    private static ReadOnlySpan<byte> LastMember(ReadOnlySpan<byte> list)
    {
        int start = 0;
        bool quoted = false;
        for (int i = 0; i < list.Length; i++)
        {
            byte b = list[i];
            if (quoted)
            {
                if (b == (byte)'\\')
                {
                    i++;
                }
                else if (b == (byte)'"')
                {
                    quoted = false;
                }
            }
            else if (b == (byte)'"')
            {
                quoted = true;
            }
            else if (b == (byte)',')
            {
                start = i + 1;
            }
        }

        return list[start..].Trim(" \t"u8);
    }

    // The value of the member's error parameter (an sf-token), or empty.
    private static ReadOnlySpan<byte> ProxyStatusError(ReadOnlySpan<byte> member)
    {
        bool quoted = false;
        for (int i = 0; i < member.Length; i++)
        {
            byte b = member[i];
            if (quoted)
            {
                if (b == (byte)'\\')
                {
                    i++;
                }
                else if (b == (byte)'"')
                {
                    quoted = false;
                }

                continue;
            }

            if (b == (byte)'"')
            {
                quoted = true;
            }
            else if (b == (byte)';')
            {
                ReadOnlySpan<byte> parameter = member[(i + 1)..].TrimStart(" \t"u8);
                if (parameter.StartsWith("error="u8))
                {
                    ReadOnlySpan<byte> type = parameter["error=".Length..];
                    int end = type.IndexOfAny(" \t;,\""u8);
                    return end < 0 ? type : type[..end];
                }
            }
        }

        return default;
    }

    private readonly record struct Row(NodeSignal Signal, Reader Read);

    private ref struct SpanWriter(Span<byte> destination)
    {
        private readonly Span<byte> _destination = destination;

        public int Length { get; private set; }

        public void Write(scoped ReadOnlySpan<byte> bytes)
        {
            int n = Math.Min(bytes.Length, _destination.Length - Length);
            bytes[..n].CopyTo(_destination[Length..]);
            Length += n;
        }

        public void Write(int value)
        {
            if (Utf8Formatter.TryFormat(value, _destination[Length..], out int written))
            {
                Length += written;
            }
        }
    }
}
