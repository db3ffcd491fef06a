using System.Net;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Http;
using Engine.Upstream;

namespace Engine.Connection;

/// <summary>The end of every request: its metrics and its one access-log line.</summary>
internal static class RequestLog
{
    /// <param name="rules">The username's targeting rules (never the key); empty when the package's defaults applied.</param>
    public static void Write(ProxyServices services, in RequestState request, RequestHead head, IPEndPoint client, Router router, bool tunnel, ReadOnlySpan<byte> rules = default) =>
        Write(services, request, head.MethodBytes, head.Target, client, router.Node, router.Attempts, tunnel, rules);

    /// <param name="method">The method as received; <paramref name="target"/>: the request-target as received.</param>
    public static void Write(ProxyServices services, in RequestState request, ReadOnlySpan<byte> method, ReadOnlySpan<byte> target, IPEndPoint client,
        Node? node, int attempts, bool tunnel, ReadOnlySpan<byte> rules)
    {
        TimeSpan duration = services.Time.GetElapsedTime(request.Started);
        services.Metrics?.RequestEnded(tunnel, request.Status, request.Error, request.Package?.Id,
            request.BytesIn, request.BytesOut, duration);
        AccessLog? log = services.AccessLog;
        if (log is null)
        {
            return;
        }

        Span<byte> id = stackalloc byte[CorrelationId.Length];
        request.CorrelationId.TryFormat(id, out _);
        ErrorDescriptor? error = request.Error == ErrorCode.None ? null : ErrorCatalog.Get(request.Error);
        log.Write(new AccessLogEntry
        {
            Time = services.Time.GetUtcNow(),
            CorrelationId = id,
            Client = client,
            PackageId = request.Package?.Id,
            Rules = rules,
            Method = method,
            Target = target,
            NodeId = node?.Id ?? string.Empty,
            Status = request.Status,
            Code = error is null ? default : error.Name,
            BytesIn = request.BytesIn,
            BytesOut = request.BytesOut,
            Duration = duration,
            Termination = request.Termination,
            Attempts = attempts,
            UpstreamStatus = request.Upstream.IsError ? request.Upstream.Status : 0,
            UpstreamError = request.Upstream.ErrorId,
            UpstreamSource = request.Upstream.Source,
        });
    }
}
