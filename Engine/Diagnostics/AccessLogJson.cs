namespace Engine.Diagnostics;

/// <summary>
/// <c>Format: json</c> (the default): one object per line with the logfmt fields under the same
/// names, <c>termination</c> for the two-letter state, <c>null</c> for an empty field, and every
/// key always present so a schema-on-read pipeline sees one shape:
/// <c>{"time":"…","cid":"…","client":"1.2.3.4:5","pkg":"demo","rules":"country-us","method":"CONNECT","target":"…",
/// "node":"local","status":200,"code":null,"in":1,"out":2,"ms":3,"termination":"--","attempts":1,"upstream":null}</c>;
/// <c>upstream</c> is <c>{"status":503,"error":"ERR_DNS_FAIL","source":"X-Squid-Error"}</c> when the answer was
/// translated from the node's (<c>node</c>) own error.
/// </summary>
internal static class AccessLogJson
{
    public static int Format(in AccessLogEntry entry, Span<byte> line)
    {
        var w = new AccessLogLineWriter(line);
        w.Raw("{\"time\":\""u8);
        w.Append(entry.Time.UtcDateTime);
        w.Raw("\",\"cid\":"u8);
        w.JsonString(entry.CorrelationId);
        w.Raw(",\"client\":"u8);
        if (entry.Client is null)
        {
            w.Raw("null"u8);
        }
        else
        {
            w.Raw("\""u8);
            w.Append(entry.Client);
            w.Raw("\""u8);
        }

        w.Raw(",\"pkg\":"u8);
        w.JsonString(entry.PackageId);
        w.Raw(",\"rules\":"u8);
        w.JsonString(entry.Rules);
        w.Raw(",\"method\":"u8);
        w.JsonString(entry.Method);
        w.Raw(",\"target\":"u8);
        w.JsonString(entry.Target);
        w.Raw(",\"node\":"u8);
        w.JsonString(entry.NodeId);
        w.Raw(",\"status\":"u8);
        w.Append(entry.Status);
        w.Raw(",\"code\":"u8);
        w.JsonString(entry.Code);
        w.Raw(",\"in\":"u8);
        w.Append(entry.BytesIn);
        w.Raw(",\"out\":"u8);
        w.Append(entry.BytesOut);
        w.Raw(",\"ms\":"u8);
        w.Append((long)entry.Duration.TotalMilliseconds);
        w.Raw(",\"termination\":\""u8);
        Span<byte> ts = stackalloc byte[2];
        entry.Termination.TryFormat(ts);
        w.Raw(ts);
        w.Raw("\",\"attempts\":"u8);
        w.Append(entry.Attempts);
        w.Raw(",\"upstream\":"u8);
        if (entry.UpstreamStatus > 0)
        {
            w.Raw("{\"status\":"u8);
            w.Append(entry.UpstreamStatus);
            w.Raw(",\"error\":"u8);
            w.JsonString(entry.UpstreamError, AccessLogLineWriter.MaxUpstreamFieldBytes);
            w.Raw(",\"source\":"u8);
            w.JsonString(entry.UpstreamSource, AccessLogLineWriter.MaxUpstreamFieldBytes);
            w.Raw("}"u8);
        }
        else
        {
            w.Raw("null"u8);
        }

        w.Raw("}\n"u8);
        return w.Length;
    }
}
