namespace Engine.Diagnostics;

/// <summary>How access log lines are written (<c>Engine:AccessLog:Format</c>).</summary>
internal enum AccessLogFormat
{
    /// <summary>One JSON object per line: what journald, Loki, Vector and jq take as is.</summary>
    Json,

    /// <summary><c>key=value</c> pairs, HAProxy-like; easiest to grep and read on a terminal.</summary>
    Logfmt,
}
