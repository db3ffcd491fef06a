namespace Engine.Diagnostics;

/// <summary>
/// <c>Format: logfmt</c>: <c>2026-11-23T01:02:03.456Z cid=… client=… pkg=… rules=… method=… target=… node=…
/// status=200 code=- in=… out=… ms=… ts=CD [attempts=N] [up_status=503 up_error=ERR_DNS_FAIL up_source=X-Squid-Error]</c>,
/// <c>-</c> for an empty field; the <c>up_</c> fields only when the answer was translated from the node's own error.
/// </summary>
internal static class AccessLogLogfmt
{
    public static int Format(in AccessLogEntry entry, Span<byte> line)
    {
        var w = new AccessLogLineWriter(line);
        w.Append(entry.Time.UtcDateTime);
        w.Raw(" cid="u8);
        w.LogfmtField(entry.CorrelationId);
        w.Raw(" client="u8);
        if (entry.Client is null)
        {
            w.Raw("-"u8);
        }
        else
        {
            w.Append(entry.Client);
        }

        w.Raw(" pkg="u8);
        w.LogfmtField(entry.PackageId);
        w.Raw(" rules="u8);
        w.LogfmtField(entry.Rules);
        w.Raw(" method="u8);
        w.LogfmtField(entry.Method);
        w.Raw(" target="u8);
        w.LogfmtField(entry.Target);
        w.Raw(" node="u8);
        w.LogfmtField(entry.NodeId);
        w.Raw(" status="u8);
        w.Append(entry.Status);
        w.Raw(" code="u8);
        w.LogfmtField(entry.Code);
        w.Raw(" in="u8);
        w.Append(entry.BytesIn);
        w.Raw(" out="u8);
        w.Append(entry.BytesOut);
        w.Raw(" ms="u8);
        w.Append((long)entry.Duration.TotalMilliseconds);
        w.Raw(" ts="u8);
        Span<byte> ts = stackalloc byte[2];
        entry.Termination.TryFormat(ts);
        w.Raw(ts);
        if (entry.Attempts > 1)
        {
            w.Raw(" attempts="u8);
            w.Append(entry.Attempts);
        }

        if (entry.UpstreamStatus > 0)
        {
            w.Raw(" up_status="u8);
            w.Append(entry.UpstreamStatus);
            w.Raw(" up_error="u8);
            w.LogfmtField(entry.UpstreamError, AccessLogLineWriter.MaxUpstreamFieldBytes);
            w.Raw(" up_source="u8);
            w.LogfmtField(entry.UpstreamSource, AccessLogLineWriter.MaxUpstreamFieldBytes);
        }

        w.Raw("\n"u8);
        return w.Length;
    }
}
