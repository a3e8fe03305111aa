using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tocsin.Configuration;

namespace Tocsin.Checks.RocketChatApps;

/// <summary>
/// The <c>rocketchat-apps</c> check kind (seed 000, with its bugs fixed): each run finds the cluster's instances, reads
/// <c>GET /api/apps/installed</c> from all of them at once, judges every app with <see cref="AppsConsistency"/>, and for a
/// drifted app sets <c>{"status":"manually_enabled"}</c> through <c>POST /api/apps/{id}/status</c> on the instances where it is
/// not enabled, re-reads to verify, and tries again (up to <c>maxAttempts</c>). Only when <see cref="CanRemediate"/> says so
/// (the leader); otherwise, and with <c>dryRun</c>, it reports what it would do. Result: OK (consistent), WARNING (drift
/// fixed and verified; disabled differently; fewer than two instances), CRITICAL (not fixed, an app missing on an instance, an
/// instance unreachable or erroring), UNKNOWN (the PAT refused, no instance found). Details list app × instance statuses and
/// the actions taken. The PAT is sent in <c>X-Auth-Token</c> and never appears in messages, details or logs.
/// </summary>
public sealed class RocketChatAppsCheckKind : ICheckKind, ICheckRunner
{
    /// <summary>The kind's name in configuration.</summary>
    public const string KindName = "rocketchat-apps";

    private static readonly HttpClient SharedHttp = new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        ConnectTimeout = TimeSpan.FromSeconds(5),
    })
    { Timeout = Timeout.InfiniteTimeSpan };

    private readonly HttpClient _http;
    private readonly TimeProvider _time;

    /// <summary>Creates the kind (with a shared HTTP client when <paramref name="http"/> is null).</summary>
    public RocketChatAppsCheckKind(TimeProvider time, HttpClient? http = null)
    {
        _time = time;
        _http = http ?? SharedHttp;
    }

    /// <summary>Whether this agent may change apps now (the leader; always true for a single agent). <value>Default: always.</value></summary>
    public Func<bool> CanRemediate { get; set; } = static () => true;

    /// <inheritdoc />
    public string Name => KindName;

    /// <inheritdoc />
    public ICheckRunner Runner => this;

    /// <inheritdoc />
    public TimeSpan? DefaultTimeout => TimeSpan.FromSeconds(30);

    /// <inheritdoc />
    public string Describe(object options) => options is RocketChatAppsOptions o
        ? $"apps of {o.ServerUrl.GetLeftPart(UriPartial.Authority)} ({(o.Discovery == DiscoveryType.Static ? $"{o.StaticUrls.Count} instances" : "instances.get")}{(o.DryRun ? ", dry run" : "")})"
        : "";

    /// <inheritdoc />
    public object ReadOptions(ConfigObjectReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader;
        Uri? server = null;
        if (r.String("serverUrl", required: true) is { } s)
        {
            if (!Uri.TryCreate(s, UriKind.Absolute, out server) || server.Scheme is not ("http" or "https") || server.UserInfo.Length > 0)
            {
                r.Error("serverUrl", ConfigObjectReader.Quote(s), "must be the server's http:// or https:// base URL without credentials, e.g. https://chat.example.org");
                server = null;
            }
        }

        string? userId = r.String("userId", required: true);
        string? pat = SecretField.Read(r, "pat", required: true);
        var appIds = r.StringList("appIds") ?? [];
        int port = (int)(r.Integer("instancePort", 1, 65535) ?? 3000);
        int attempts = (int)(r.Integer("maxAttempts", 1, 10) ?? 3);
        bool dryRun = r.Bool("dryRun") ?? false;
        var type = DiscoveryType.InstancesApi;
        var urls = new List<Uri>();
        if (r.Object("discovery") is { } d)
        {
            string? t = d.String("type", required: true);
            if (t is "static")
            {
                type = DiscoveryType.Static;
                foreach (string u in d.StringList("urls") ?? [])
                {
                    if (Uri.TryCreate(u, UriKind.Absolute, out var parsed) && parsed.Scheme is "http" or "https" && parsed.UserInfo.Length == 0)
                    {
                        urls.Add(parsed);
                    }
                    else
                    {
                        d.Error("urls", ConfigObjectReader.Quote(u), "each must be an http:// or https:// URL of one instance, e.g. http://10.0.0.5:3000");
                    }
                }

                if (urls.Count == 0 && !d.Has("urls"))
                {
                    d.Error("urls", null, "is required with \"type\": \"static\": the instances' URLs");
                }
            }
            else if (t is not null and not "instances-api")
            {
                d.Error("type", ConfigObjectReader.Quote(t), "allowed: \"instances-api\" (GET /api/v1/instances.get on serverUrl; the default) or \"static\" (with \"urls\")");
            }

            d.RejectUnknownFields();
        }

        return server is null || userId is null || pat is null
            ? new object()
            : new RocketChatAppsOptions
            {
                ServerUrl = server, UserId = userId, Pat = pat, AppIds = appIds, Discovery = type, StaticUrls = urls, InstancePort = port,
                MaxAttempts = attempts, DryRun = dryRun,
            };
    }

    /// <inheritdoc />
    public async Task<RunOutcome> RunAsync(CheckDefinition check, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(check);
        var o = (RocketChatAppsOptions)check.Options;
        var details = new JsonObject();
        List<Uri> instances;
        try
        {
            instances = o.Discovery == DiscoveryType.Static ? [.. o.StaticUrls] : await DiscoverAsync(o, cancellationToken).ConfigureAwait(false);
        }
        catch (AuthRefusedException)
        {
            return new RunOutcome(CheckState.UNKNOWN, $"{o.ServerUrl.GetLeftPart(UriPartial.Authority)} refused the user id and PAT (HTTP 401/403)", null, details);
        }
        catch (FetchException ex)
        {
            return new RunOutcome(CheckState.UNKNOWN, $"cannot list the instances: {ex.Message}", null, details);
        }

        details["instances"] = new JsonArray([.. instances.Select(i => (JsonNode)i.GetLeftPart(UriPartial.Authority))]);
        if (instances.Count == 0)
        {
            return new RunOutcome(CheckState.UNKNOWN, "no instance found", null, details);
        }

        var read = await Task.WhenAll(instances.Select(i => ReadAppsAsync(o, i, cancellationToken))).ConfigureAwait(false);
        if (read.Any(r => r.Error == Unauthorized))
        {
            return new RunOutcome(CheckState.UNKNOWN, "an instance refused the user id and PAT (HTTP 401/403)", null, details);
        }

        var findings = AppsConsistency.Evaluate(read, o.AppIds.Count == 0 ? null : o.AppIds);
        var actions = new JsonArray();
        bool remediate = !o.DryRun && CanRemediate();
        var fixedApps = new List<string>();
        var unfixed = new List<string>();
        foreach (var f in findings.Where(f => f.ToEnable.Count > 0))
        {
            foreach (string instance in f.ToEnable)
            {
                if (!remediate)
                {
                    actions.Add(new JsonObject { ["app"] = f.Id, ["instance"] = instance, ["action"] = o.DryRun ? "would enable (dry run)" : "would enable (not the leader)" });
                    continue;
                }

                var (ok, attempts, last) = await EnableAsync(o, new Uri(instance), f.Id, cancellationToken).ConfigureAwait(false);
                actions.Add(new JsonObject { ["app"] = f.Id, ["instance"] = instance, ["action"] = "enable", ["attempts"] = attempts, ["verified"] = ok, ["status"] = last });
                (ok ? fixedApps : unfixed).Add($"{f.Name} ({f.Id}) on {instance}");
            }
        }

        details["apps"] = new JsonArray([.. findings.Select(f => (JsonNode)new JsonObject
        {
            ["id"] = f.Id,
            ["name"] = f.Name,
            ["verdict"] = f.Verdict.ToString(),
            ["statuses"] = new JsonObject([.. f.Statuses.Select(s => new KeyValuePair<string, JsonNode?>(s.Instance, s.Status))]),
        })]);
        details["actions"] = actions;
        var unreachable = read.Where(r => r.Apps is null).Select(r => $"{r.Instance}: {r.Error}").ToList();
        var missing = findings.Where(f => f.Verdict == AppVerdict.Missing).Select(f => $"{f.Name} ({f.Id})").ToList();
        var differently = findings.Where(f => f.Verdict == AppVerdict.DisabledDifferently).Select(f => $"{f.Name} ({f.Id})").ToList();
        var pending = findings.Where(f => f.ToEnable.Count > 0 && !remediate).Select(f => $"{f.Name} ({f.Id}) on {string.Join(", ", f.ToEnable)}").ToList();

        var parts = new List<string>();
        var state = CheckState.OK;
        void Add(CheckState s, string text)
        {
            state = CheckStates.Worst(state, s);
            parts.Add(text);
        }

        if (unreachable.Count > 0)
        {
            Add(CheckState.CRITICAL, $"unreachable: {string.Join("; ", unreachable)}");
        }

        if (unfixed.Count > 0)
        {
            Add(CheckState.CRITICAL, $"could not enable {string.Join("; ", unfixed)}");
        }

        if (missing.Count > 0)
        {
            Add(CheckState.CRITICAL, $"missing on some instances: {string.Join(", ", missing)}");
        }

        if (pending.Count > 0)
        {
            // Only when this run may not change apps (dry run, or another agent leads): reported, not a failure of the cluster.
            Add(CheckState.WARNING, $"drift{(o.DryRun ? " (dry run, not fixed)" : " (another agent fixes it)")}: {string.Join("; ", pending)}");
        }

        if (fixedApps.Count > 0)
        {
            Add(CheckState.WARNING, $"drift fixed and verified: enabled {string.Join("; ", fixedApps)}");
        }

        if (differently.Count > 0)
        {
            Add(CheckState.WARNING, $"disabled differently across instances (left alone): {string.Join(", ", differently)}");
        }

        int readable = read.Count(r => r.Apps is not null);
        if (readable < 2)
        {
            Add(CheckState.WARNING, $"only {readable} instance(s) could be read: nothing to compare");
        }

        string summary = $"{findings.Count} app(s) on {readable} instance(s)";
        return new RunOutcome(state, parts.Count == 0 ? $"{summary}: consistent" : $"{summary}: {string.Join("; ", parts)}", null, details);
    }

    private const string Unauthorized = "HTTP 401/403";

    private async Task<List<Uri>> DiscoverAsync(RocketChatAppsOptions o, CancellationToken ct)
    {
        using var doc = await GetJsonAsync(o, new Uri(o.ServerUrl, "api/v1/instances.get"), ct).ConfigureAwait(false);
        var list = new List<Uri>();
        if (!doc.RootElement.TryGetProperty("instances", out var instances) || instances.ValueKind != JsonValueKind.Array)
        {
            throw new FetchException("instances.get answered without an \"instances\" array");
        }

        foreach (var i in instances.EnumerateArray())
        {
            string? host = i.TryGetProperty("address", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null;
            string? port = null;
            if (i.TryGetProperty("instanceRecord", out var rec) && rec.TryGetProperty("extraInformation", out var extra))
            {
                host ??= extra.TryGetProperty("host", out var h) && h.ValueKind == JsonValueKind.String ? h.GetString() : null;
                port = extra.TryGetProperty("port", out var p) ? (p.ValueKind == JsonValueKind.String ? p.GetString() : p.ValueKind == JsonValueKind.Number ? p.GetRawText() : null) : null;
            }

            if (host is not null && Uri.TryCreate($"http://{host}:{port ?? o.InstancePort.ToString(System.Globalization.CultureInfo.InvariantCulture)}/", UriKind.Absolute, out var uri))
            {
                list.Add(uri);
            }
        }

        return [.. list.DistinctBy(u => u.GetLeftPart(UriPartial.Authority))];
    }

    private async Task<InstanceApps> ReadAppsAsync(RocketChatAppsOptions o, Uri instance, CancellationToken ct)
    {
        string name = instance.GetLeftPart(UriPartial.Authority);
        try
        {
            using var doc = await GetJsonAsync(o, new Uri(instance, "api/apps/installed"), ct).ConfigureAwait(false);
            if (!doc.RootElement.TryGetProperty("apps", out var apps) || apps.ValueKind != JsonValueKind.Array)
            {
                return new InstanceApps(name, null, "answered without an \"apps\" array");
            }

            var list = new List<InstalledApp>();
            foreach (var a in apps.EnumerateArray())
            {
                if (a.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String)
                {
                    list.Add(new InstalledApp(
                        id.GetString()!, a.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : id.GetString()!,
                        a.TryGetProperty("status", out var st) && st.ValueKind == JsonValueKind.String ? st.GetString()! : "unknown"));
                }
            }

            return new InstanceApps(name, list);
        }
        catch (AuthRefusedException)
        {
            return new InstanceApps(name, null, Unauthorized);
        }
        catch (FetchException ex)
        {
            return new InstanceApps(name, null, ex.Message);
        }
    }

    private async Task<(bool Ok, int Attempts, string? Last)> EnableAsync(RocketChatAppsOptions o, Uri instance, string appId, CancellationToken ct)
    {
        string? last = null;
        for (int attempt = 1; attempt <= o.MaxAttempts; attempt++)
        {
            try
            {
                using var request = Request(o, HttpMethod.Post, new Uri(instance, $"api/apps/{Uri.EscapeDataString(appId)}/status"));
                request.Content = new StringContent("""{"status":"manually_enabled"}""", Encoding.UTF8, "application/json");
                using var response = await _http.SendAsync(request, ct).ConfigureAwait(false);
                var apps = await ReadAppsAsync(o, instance, ct).ConfigureAwait(false);
                last = apps.Apps?.FirstOrDefault(a => a.Id == appId)?.Status ?? apps.Error;
                if (AppStatuses.IsEnabled(last))
                {
                    return (true, attempt, last);
                }
            }
            catch (HttpRequestException ex)
            {
                last = $"cannot reach: {ex.HttpRequestError}";
            }

            if (attempt < o.MaxAttempts)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250 << (attempt - 1)), _time, ct).ConfigureAwait(false);
            }
        }

        return (false, o.MaxAttempts, last);
    }

    private async Task<JsonDocument> GetJsonAsync(RocketChatAppsOptions o, Uri url, CancellationToken ct)
    {
        try
        {
            using var request = Request(o, HttpMethod.Get, url);
            using var response = await _http.SendAsync(request, ct).ConfigureAwait(false);
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                throw new AuthRefusedException();
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new FetchException($"HTTP {(int)response.StatusCode}");
            }

            await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            return await JsonDocument.ParseAsync(body, default, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new FetchException($"cannot reach ({ex.HttpRequestError})");
        }
        catch (JsonException)
        {
            throw new FetchException("answered with invalid JSON");
        }
    }

    private static HttpRequestMessage Request(RocketChatAppsOptions o, HttpMethod method, Uri url)
    {
        var request = new HttpRequestMessage(method, url);
        request.Headers.TryAddWithoutValidation("X-User-Id", o.UserId);
        request.Headers.TryAddWithoutValidation("X-Auth-Token", o.Pat);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return request;
    }

    private sealed class AuthRefusedException : Exception
    {
    }

    private sealed class FetchException(string message) : Exception(message)
    {
    }
}
