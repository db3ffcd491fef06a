using Microsoft.Extensions.Configuration;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Engine.Auth;
using Engine.Connection;
using Engine.Diagnostics;
using Engine.Http;
using Engine.Upstream;
using Engine.Sessions;

namespace Engine.Admin;

internal sealed partial class AdminServer
{
    /// <summary>Problem <c>type</c> base: the anchors of docs/admin.md (errors.md's reserved-name default).</summary>
    public const string TypeBase = "https://proxy.invalid/docs/admin.md#";

    private const string Json = "application/json";
    private const string ProblemJson = "application/problem+json";

    // Ids are config tokens (letters, digits, -._~; EngineConfigReader); session ids are ≤ 64 (rules.md).
    private const int MaxIdLength = 128;
    private const int MaxSessionIdLength = 64;

    private async ValueTask<AdminResponse> HandleAsync(RequestHead head, IPAddress client, byte[]? body = null)
    {
        string instance = Instance(head);
        try
        {
            if (head.TargetForm is not (TargetForm.Origin or TargetForm.Absolute))
            {
                return Problem(400, "BAD_REQUEST", "Bad request", "The admin API takes origin-form targets (/path).", instance);
            }

            string method = Encoding.ASCII.GetString(head.MethodBytes);
            string path = Encoding.Latin1.GetString(head.TargetPathAndQuery);
            int query = path.IndexOf('?', StringComparison.Ordinal);
            if (query >= 0)
            {
                path = path[..query];
            }

            string[] segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
            if (segments.Length == 0 || (segments.Length == 1 && segments[0] == "healthz"))
            {
                // The page (it asks for the token itself) and liveness are open: no data in either.
                return method == "GET"
                    ? segments.Length == 0 ? StatusPage.Response() : Ok(new HealthView("live", _accepting(), false), AdminJsonContext.Default.HealthView)
                    : NotAllowed(instance, "GET");
            }

            if (await AuthenticateAsync(head, client, instance).ConfigureAwait(false) is { } refused)
            {
                return refused;
            }

            if (!SameOrigin(head))
            {
                return CrossOrigin(instance);
            }

            return await RouteAsync(method, segments, instance, client, body).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return Problem(500, "ADMIN_INTERNAL_ERROR", "Internal error", "The admin request failed: " + e.GetType().Name + ".", instance);
        }
    }

    private async ValueTask<AdminResponse> RouteAsync(string method, string[] segments, string instance, IPAddress client, byte[]? body)
    {
        ProxyServices services = _services();
        switch (segments)
        {
            case ["readyz"]:
                return method == "GET" ? Ready(services, instance) : NotAllowed(instance, "GET");
            case ["metrics"]:
                return method == "GET" ? new AdminResponse(200, PrometheusExporter.ContentType, Encoding.UTF8.GetBytes(_exporter.Scrape())) : NotAllowed(instance, "GET");
            case ["status.json"]:
                return method == "GET" ? Ok(Summary(services), AdminJsonContext.Default.StatusSummary) : NotAllowed(instance, "GET");
            case ["nodes"]:
                return method == "GET" ? Ok(Nodes(services), AdminJsonContext.Default.NodeViewArray) : NotAllowed(instance, "GET");
            case ["nodes", string id]:
                return method switch
                {
                    "DELETE" => Audited(NodeAction(services, id, NodeAdminState.Removed, instance), "DELETE", id, client),
                    "PUT" when _putNode is not null => Audited(PutNode(id, body, instance), "PUT", id, client),
                    _ => NotAllowed(instance, _putNode is null ? "DELETE" : "DELETE, PUT"),
                };
            case ["nodes", string id, "drain"]:
                return method == "POST" ? Audited(NodeAction(services, id, NodeAdminState.Draining, instance), "drain", id, client) : NotAllowed(instance, "POST");
            case ["nodes", string id, "enable"]:
                return method == "POST" ? Audited(NodeAction(services, id, NodeAdminState.Active, instance), "enable", id, client) : NotAllowed(instance, "POST");
            case ["packages", string id, "usage"]:
                return method == "GET" ? Usage(services, id, instance) : NotAllowed(instance, "GET");
            case ["sessions", string package, string id]:
                return method switch
                {
                    "GET" or "DELETE" => await SessionAsync(services, method, package, id, instance).ConfigureAwait(false),
                    _ => NotAllowed(instance, "GET, DELETE"),
                };
            default:
                return Problem(404, "NOT_FOUND", "Not found", "No admin endpoint at this path.", instance);
        }
    }

    /// <summary>
    /// The right token always goes through: the throttle only slows wrong ones, so no local
    /// process or web page can lock the operator or Prometheus out (issue 19.5). A cross-site
    /// request is refused before it counts: a page in the operator's browser cannot spend the
    /// address's failures.
    /// </summary>
    /// <returns>Null when the bearer token is right; otherwise the 403, 429 or 401 to answer.</returns>
    private async ValueTask<AdminResponse?> AuthenticateAsync(RequestHead head, IPAddress client, string instance)
    {
        ReadOnlySpan<byte> authorization = head.GetValue(KnownHeader.Authorization);
        bool present = authorization.Length > 7 && Ascii.EqualsIgnoreCase(authorization[..7], "Bearer "u8);
        if (present && TokenMatches(authorization[7..].Trim((byte)' ')))
        {
            return null;
        }

        if (!SameOrigin(head))
        {
            return CrossOrigin(instance);
        }

        if (_throttle.RecordFailure(client, out TimeSpan windowLeft))
        {
            // As the proxy's own throttle: answered late and closed, one guess per second per connection.
            await Task.Delay(AuthFailureThrottle.Delay, _time, _stopping.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            int wait = Math.Max(1, (int)Math.Ceiling(windowLeft.TotalSeconds));
            AdminResponse throttled = Problem(429, "AUTH_THROTTLED", "Too many failed authentications",
                $"More than {_throttle.FailuresPerMinute} wrong or missing tokens from this address within a minute; wrong tokens are answered slowly until it is over. The right token is always served.",
                instance, wait);
            throttled.Close = true;
            return throttled;
        }

        return present
            ? Problem(401, "UNAUTHORIZED", "Unauthorized", "The bearer token is not valid.", instance)
                .With("WWW-Authenticate", "Bearer realm=\"engine-admin\", error=\"invalid_token\"")
            : Problem(401, "UNAUTHORIZED", "Unauthorized", "Send Authorization: Bearer {Admin:Token}.", instance)
                .With("WWW-Authenticate", "Bearer realm=\"engine-admin\"");
    }

    private bool TokenMatches(ReadOnlySpan<byte> token)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(token, hash);
        // Hashes of equal length: the comparison's time says nothing about the token's length or prefix.
        return CryptographicOperations.FixedTimeEquals(hash, _tokenHash);
    }

    private static AdminResponse CrossOrigin(string instance) =>
        Problem(403, "FORBIDDEN", "Forbidden", "Cross-origin requests to the admin API are refused (the Origin header names another site).", instance);

    /// <summary>
    /// A browser sends Origin on cross-site fetches: a page elsewhere must not drive the admin API
    /// with a token the user typed into the status page (CSRF). Tools send no Origin.
    /// </summary>
    private static bool SameOrigin(RequestHead head)
    {
        for (int i = 0; i < head.HeaderCount; i++)
        {
            HeaderField field = head.GetHeader(i);
            if (Ascii.EqualsIgnoreCase(field.Name, "Origin"u8))
            {
                ReadOnlySpan<byte> origin = field.Value;
                ReadOnlySpan<byte> host = head.Host;
                return origin.StartsWith("http://"u8) && origin[7..].SequenceEqual(host);
            }
        }

        return true;
    }

    private AdminResponse Ready(ProxyServices services, string instance)
    {
        bool accepting = _accepting();
        bool degraded = services.State.IsDegraded;
        if (accepting && !degraded)
        {
            return Ok(new HealthView("ready", accepting, degraded), AdminJsonContext.Default.HealthView);
        }

        string why = !accepting ? "The proxy listeners are not accepting connections." : "The shared state store (Redis) cannot be reached.";
        return Problem(503, "NOT_READY", "Not ready", why, instance, 5);
    }

    private static NodeView[] Nodes(ProxyServices services)
    {
        NodePool pool = services.Routing.Pool;
        long now = services.Time.GetTimestamp();
        int[] bans = new int[pool.Count];
        pool.Bans.CountBanned(bans, now);
        var nodes = new NodeView[pool.Count];
        for (int i = 0; i < nodes.Length; i++)
        {
            nodes[i] = View(pool, pool.Nodes[i], bans[i], services.Time, now);
        }

        return nodes;
    }

    private static NodeView View(NodePool pool, Node node, int bans, TimeProvider time, long now)
    {
        long outUntil = node.OutUntil;
        DateTimeOffset? until = outUntil > now
            ? time.GetUtcNow() + TimeSpan.FromSeconds((double)(outUntil - now) / time.TimestampFrequency)
            : null;
        var tags = new NodeTagsView(
            node.Country == 0 ? null : new string([(char)(node.Country >> 8), (char)(node.Country & 0xFF)]),
            node.Region >= 0 ? pool.Regions.Name(node.Region) : null,
            node.City >= 0 ? pool.Cities.Name(node.City) : null,
            node.Isp >= 0 ? pool.Isps.Name(node.Isp) : null,
            node.Asn == 0 ? null : node.Asn,
            node.Network == Rules.RuleNetwork.Unset ? null : Encoding.ASCII.GetString(NodeTags.NetworkName(node.Network)));
        return new NodeView(
            node.Id,
            node.Type.ToString().ToLowerInvariant(),
            tags,
            node.Weight,
            node.AdminState.ToString().ToLowerInvariant(),
            node.IsAvailable(now),
            node.InFlight,
            node.ConsecutiveFailures,
            node.Ejections,
            until,
            bans,
            node.Origin,
            node.Gateway is { } gateway
                ? new GatewayView(gateway.Preset, ExpressedFilters(gateway.Expresses), gateway.MaxSessionSeconds, gateway.FailuresToEject)
                : null);
    }

    private static string[] ExpressedFilters(FilterDimensions dimensions)
    {
        var names = new List<string>(7);
        foreach ((FilterDimensions dimension, string name) in (ReadOnlySpan<(FilterDimensions, string)>)[
            (FilterDimensions.Country, "country"), (FilterDimensions.Region, "region"), (FilterDimensions.City, "city"), (FilterDimensions.Isp, "isp"),
            (FilterDimensions.Asn, "asn"), (FilterDimensions.Network, "network"), (FilterDimensions.Session, "session")])
        {
            if ((dimensions & dimension) != 0)
            {
                names.Add(name);
            }
        }

        return [.. names];
    }

    /// <summary>Node changes are logged with who made them (the audit trail of docs/admin.md); refusals are not changes.</summary>
    private AdminResponse Audited(AdminResponse response, string action, string rawId, IPAddress client)
    {
        if (_audit is not null && response.Status is >= 200 and < 300)
        {
            Hosting.EngineLog.AdminNodeChanged(_audit, action, Uri.UnescapeDataString(rawId), client.ToString());
        }

        return response;
    }

    /// <summary><c>PUT /nodes/{id}</c>: the body is one node object, the same JSON as in the configuration's <c>Nodes</c>.</summary>
    private AdminResponse PutNode(string rawId, byte[]? body, string instance)
    {
        if (!TryId(rawId, "id", MaxIdLength, out string id, out AdminResponse? invalid, instance))
        {
            return invalid;
        }

        if (body is null || body.Length == 0)
        {
            return Problem(400, "BAD_REQUEST", "Bad request", "PUT /nodes/{id} takes a node object as its JSON body.", instance);
        }

        IConfiguration root;
        try
        {
            byte[] wrapped = [.. "{\"Node\":"u8, .. body, .. "}"u8];
            root = new ConfigurationBuilder().AddJsonStream(new MemoryStream(wrapped)).Build();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or JsonException)
        {
            return Problem(400, "BAD_REQUEST", "Bad request", "The body is not a JSON object.", instance);
        }

        if (!root.GetSection("Node:Id").Exists())
        {
            root["Node:Id"] = id;   // the path names the node; the body need not repeat it
        }

        var problems = new List<Hosting.ConfigProblem>();
        Upstream.NodeOptions node = Hosting.EngineConfigReader.ReadSingleNode(root, problems);
        if (node.Id != id)
        {
            problems.Add(new Hosting.ConfigProblem("Node.Id", $"'{node.Id}' is not the id in the path ('{id}')"));
        }

        if (problems.Count > 0)
        {
            var violations = problems.Select(p => new Violation(p.Path.StartsWith("Node.", StringComparison.Ordinal) ? p.Path[5..] : p.Path, p.Message)).ToList();
            var problem = new ProblemDetails(TypeBase + "invalid_node", "Invalid node", 422, "INVALID_NODE",
                "The node is not valid; nothing changed.", instance) { Violations = violations };
            return new AdminResponse(422, ProblemJson, JsonSerializer.SerializeToUtf8Bytes(problem, AdminJsonContext.Default.ProblemDetails));
        }

        if (!_putNode!(new Upstream.NodeOptions
        {
            Id = node.Id, Type = node.Type, Address = node.Address, Username = node.Username, Password = node.Password, LocalAddress = node.LocalAddress,
            Country = node.Country, Region = node.Region, City = node.City, Isp = node.Isp, Asn = node.Asn, Network = node.Network, Weight = node.Weight,
            Gateway = node.Gateway, Origin = "admin",
        }))
        {
            return Problem(503, "NOT_READY", "Not ready", "The engine is not running.", instance, 1);
        }

        ProxyServices services = _services();
        NodePool pool = services.Routing.Pool;
        Node installed = pool.FindAny(id)!;
        long now = services.Time.GetTimestamp();
        return Ok(View(pool, installed, 0, services.Time, now), AdminJsonContext.Default.NodeView);
    }

    private static AdminResponse NodeAction(ProxyServices services, string rawId, NodeAdminState state, string instance)
    {
        if (!TryId(rawId, "id", MaxIdLength, out string id, out AdminResponse? invalid, instance))
        {
            return invalid;
        }

        NodePool pool = services.Routing.Pool;
        Node? node = pool.FindAny(id);
        if (node is null)
        {
            return Problem(404, "NOT_FOUND", "Not found", "No node with this id.", instance);
        }

        if (node.AdminState == NodeAdminState.Removed && state != NodeAdminState.Removed)
        {
            return Problem(409, "CONFLICT", "Conflict", "The node was removed; only a configuration reload brings it back.", instance);
        }

        node.AdminState = state;
        long now = services.Time.GetTimestamp();
        int[] bans = new int[pool.Count];
        pool.Bans.CountBanned(bans, now);
        return Ok(View(pool, node, bans[node.Index], services.Time, now), AdminJsonContext.Default.NodeView);
    }

    private static AdminResponse Usage(ProxyServices services, string rawId, string instance)
    {
        if (!TryId(rawId, "id", MaxIdLength, out string id, out AdminResponse? invalid, instance))
        {
            return invalid;
        }

        Package? package = services.Packages.FindById(id);
        if (package is null)
        {
            return Problem(404, "NOT_FOUND", "Not found", "No package with this id.", instance);
        }

        Limits.PackageLimits limits = package.Limits;
        return Ok(new PackageUsage(
            package.Id,
            package.Status.ToString().ToLowerInvariant(),
            services.Limiter.TrafficUsed(package),
            limits.TrafficLimitBytes,
            services.Limiter.InFlight(package.Id),
            limits.MaxConcurrent,
            limits.RequestsPerSecond,
            services.Routing.Sessions.LiveSessions(package.Id),
            services.Routing.Sessions.MaxSessionsOf(package.Id),
            services.State.IsDegraded), AdminJsonContext.Default.PackageUsage);
    }

    private static async ValueTask<AdminResponse> SessionAsync(ProxyServices services, string method, string rawPackage, string rawId, string instance)
    {
        var violations = new List<Violation>(2);
        string package = CheckId(rawPackage, "package", MaxIdLength, violations);
        string id = CheckId(rawId, "id", MaxSessionIdLength, violations);
        if (violations.Count > 0)
        {
            return Invalid(violations, instance);
        }

        // One answer for "no such package" and "no such session": a caller learns nothing about
        // which packages exist from session lookups.
        AdminResponse notFound = Problem(404, "NOT_FOUND", "Not found", "No live session with this id in this package.", instance);
        if (services.Packages.FindById(package) is null)
        {
            return notFound;
        }

        ISessionStore sessions = services.Routing.Sessions;
        byte[] key = Encoding.ASCII.GetBytes(id);
        if (method == "DELETE")
        {
            return await sessions.DeleteAsync(package, key).ConfigureAwait(false) ? new AdminResponse(204, null, []) : notFound;
        }

        SessionInfo? info = await sessions.GetAsync(package, key).ConfigureAwait(false);
        return info is null ? notFound : Ok(new SessionView(
            package,
            id,
            info.NodeId,
            info.RequestsOnNode,
            Math.Round(info.Age.TotalSeconds, 3),
            Math.Round(info.ExpiresIn.TotalSeconds, 3),
            info.Terms.LengthSeconds,
            info.Terms.IdleTtlSeconds,
            info.Terms.RotateSeconds,
            info.Terms.RotateRequests), AdminJsonContext.Default.SessionView);
    }

    private StatusSummary Summary(ProxyServices services)
    {
        Dictionary<string, List<(MetricTags Tags, double Value)>> values = _exporter.Read();
        var codes = new SortedDictionary<string, long>(StringComparer.Ordinal);
        long Total(string name, string? label = null, string? value = null)
        {
            long total = 0;
            foreach ((MetricTags tags, double v) in values.GetValueOrDefault(name) ?? [])
            {
                if (label is null || Label(tags, label) == value)
                {
                    total += (long)v;
                }
            }

            return total;
        }

        foreach (string name in (string[])["engine_requests_total", "engine_tunnels_total"])
        {
            foreach ((MetricTags tags, double v) in values.GetValueOrDefault(name) ?? [])
            {
                string code = Label(tags, "code") ?? "none";
                codes[code] = codes.GetValueOrDefault(code) + (long)v;
            }
        }

        return new StatusSummary(
            services.Time.GetUtcNow(),
            Total("engine_connections_open"),
            Total("engine_requests_total"),
            Total("engine_tunnels_total"),
            Total("engine_bytes_total", "direction", "in"),
            Total("engine_bytes_total", "direction", "out"),
            codes,
            services.State.IsDegraded,
            Nodes(services));
    }

    private static string? Label(MetricTags tags, string name)
    {
        for (int i = 0; i < tags.Count; i++)
        {
            if (tags[i].Name == name)
            {
                return tags[i].Value;
            }
        }

        return null;
    }

    private static bool TryId(string raw, string field, int maxLength, out string id, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out AdminResponse? invalid, string instance)
    {
        var violations = new List<Violation>(1);
        id = CheckId(raw, field, maxLength, violations);
        invalid = violations.Count > 0 ? Invalid(violations, instance) : null;
        return invalid is null;
    }

    /// <summary>Percent-decodes a path segment and checks it is an id: 1..max of letters, digits, -._~.</summary>
    private static string CheckId(string raw, string field, int maxLength, List<Violation> violations)
    {
        string id = Uri.UnescapeDataString(raw);
        if (id.Length == 0 || id.Length > maxLength || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~'))
        {
            violations.Add(new Violation(field, $"must be 1 to {maxLength} letters, digits or -._~"));
        }

        return id;
    }

    private static AdminResponse Invalid(List<Violation> violations, string instance)
    {
        var problem = new ProblemDetails(TypeBase + "invalid_id", "Invalid path parameter", 422, "INVALID_ID",
            "A path parameter is not a valid id.", instance) { Violations = violations };
        return new AdminResponse(422, ProblemJson, JsonSerializer.SerializeToUtf8Bytes(problem, AdminJsonContext.Default.ProblemDetails));
    }

    private static AdminResponse NotAllowed(string instance, string allow) =>
        Problem(405, "METHOD_NOT_ALLOWED", "Method not allowed", $"This endpoint answers {allow}.", instance).With("Allow", allow);

    private static AdminResponse Ok<T>(T value, JsonTypeInfo<T> type) =>
        new(200, Json, JsonSerializer.SerializeToUtf8Bytes(value, type));

    internal static AdminResponse Problem(int status, string code, string title, string detail, string instance, int? retryAfter = null)
    {
        var problem = new ProblemDetails(TypeBase + code.ToLowerInvariant(), title, status, code, detail, instance) { RetryAfterSeconds = retryAfter };
        var response = new AdminResponse(status, ProblemJson, JsonSerializer.SerializeToUtf8Bytes(problem, AdminJsonContext.Default.ProblemDetails));
        return retryAfter is int seconds ? response.With("Retry-After", seconds.ToString(CultureInfo.InvariantCulture)) : response;
    }

    private static string Instance(RequestHead head) =>
        Encoding.ASCII.GetString(head.MethodBytes) + " " + Encoding.Latin1.GetString(head.Target);
}
