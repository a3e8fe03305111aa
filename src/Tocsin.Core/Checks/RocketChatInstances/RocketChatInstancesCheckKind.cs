using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tocsin.Checks.Command;
using Tocsin.Checks.RocketChat;
using Tocsin.Checks.RocketChatApps;
using Tocsin.Configuration;

namespace Tocsin.Checks.RocketChatInstances;

/// <summary>
/// Options of a <c>rocketchat-instances</c> check (seed 001's deployment health): <c>serverUrl</c>, <c>userId</c> and <c>pat</c>
/// (or <c>patEnv</c>/<c>patFile</c>; required for the default <c>instances-api</c> discovery, optional otherwise — with them the
/// check also reads <c>instances.get</c>'s <c>connected</c> flags and heartbeats), <c>discovery</c> + <c>instancePort</c>,
/// <c>expectedInstances</c> (1–1000) and <c>maxHeartbeatAge</c> (10 s – 1 h, default 1 min).
/// </summary>
public sealed record RocketChatInstancesOptions
{
    /// <summary>The cluster's address, or null (allowed with static or Kubernetes discovery).</summary>
    public Uri? ServerUrl { get; init; }

    /// <summary>The credentials, or null. Secret PAT: never logged or shown.</summary>
    public RocketChatCredentials? Credentials { get; init; }

    /// <summary>How instances are found.</summary>
    public InstanceDiscoveryOptions Discovery { get; init; } = new();

    /// <summary>How many instances should answer: fewer is WARNING (CRITICAL below 2 as always). Null: no expectation.</summary>
    public int? ExpectedInstances { get; init; }

    /// <summary>The oldest <c>lastHeartbeatTime</c> in <c>instances.get</c> that counts as alive. <value>Default: 1 minute.</value></summary>
    public TimeSpan MaxHeartbeatAge { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Everything but the PAT.</summary>
    public override string ToString() => $"rocketchat-instances {ServerUrl} ({Discovery.Describe()}, expected {ExpectedInstances?.ToString(CultureInfo.InvariantCulture) ?? "any"})";
}

/// <summary>
/// The <c>rocketchat-instances</c> check kind (seed 001: Rocket.Chat's readiness probe is <c>GET /api/info</c>, 3 replicas):
/// finds the instances, asks each <c>GET /api/info</c> (<c>{"version":"6.x.y","success":true}</c>) at once, and with credentials
/// reads <c>GET {serverUrl}/api/v1/instances.get</c> for every instance's <c>currentStatus.connected</c> and
/// <c>lastHeartbeatTime</c>. Result: CRITICAL when fewer than two instances answer (no high availability left; with
/// <c>expectedInstances</c> of 1, when none answers); WARNING when fewer than <c>expectedInstances</c> answer, an instance
/// does not answer, versions differ, an instance is listed not connected or with a heartbeat older than
/// <c>maxHeartbeatAge</c>, or instances.get cannot be read; UNKNOWN when the credentials are refused or no instance is
/// found; otherwise OK. Details: every instance's address, id, version, answer, connected flag and heartbeat age. Perfdata
/// (details <c>perfdata</c>): <c>instances</c> (answering, with the expectation as minimum) and <c>versions</c>.
/// </summary>
public sealed class RocketChatInstancesCheckKind : ICheckKind, ICheckRunner
{
    /// <summary>The kind's name in configuration.</summary>
    public const string KindName = "rocketchat-instances";

    private readonly HttpClient _http;
    private readonly TimeProvider _time;

    /// <summary>Creates the kind (with the shared Rocket.Chat HTTP client when <paramref name="http"/> is null).</summary>
    public RocketChatInstancesCheckKind(TimeProvider time, HttpClient? http = null)
    {
        _time = time;
        _http = http ?? RocketChatHttp.Shared;
    }

    /// <inheritdoc />
    public string Name => KindName;

    /// <inheritdoc />
    public ICheckRunner Runner => this;

    /// <inheritdoc />
    public TimeSpan? DefaultTimeout => TimeSpan.FromSeconds(15);

    /// <summary>1 minute.</summary>
    public TimeSpan? DefaultInterval => TimeSpan.FromMinutes(1);

    /// <inheritdoc />
    public string Describe(object options) => options is RocketChatInstancesOptions o
        ? $"/api/info of {(o.ServerUrl is { } s ? s.GetLeftPart(UriPartial.Authority) : "instances")} ({o.Discovery.Describe()}{(o.ExpectedInstances is { } e ? $", expect {e}" : "")})"
        : "";

    /// <inheritdoc />
    public object ReadOptions(ConfigObjectReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader;
        var discovery = InstanceDiscoveryOptions.Read(r);
        bool needsApi = discovery.Type == DiscoveryType.InstancesApi;
        Uri? server = RocketChatAppsCheckKind.ReadServerUrl(r, required: needsApi);
        string? userId = r.String("userId", required: needsApi);
        string? pat = SecretField.Read(r, "pat", required: needsApi);
        if ((userId is null) != (pat is null) && !needsApi)
        {
            r.Error(userId is null ? "userId" : "pat", null, "give both \"userId\" and \"pat\" (to read instances.get), or neither");
        }

        if (!needsApi && userId is not null && server is null)
        {
            r.Error("serverUrl", null, "is required with \"userId\" and \"pat\": instances.get is read there");
        }

        int? expected = (int?)r.Integer("expectedInstances", 1, 1000);
        var maxAge = r.Duration("maxHeartbeatAge", TimeSpan.FromSeconds(10), TimeSpan.FromHours(1)) ?? TimeSpan.FromMinutes(1);
        if (needsApi && (server is null || userId is null || pat is null))
        {
            return new object();
        }

        return new RocketChatInstancesOptions
        {
            ServerUrl = server,
            Credentials = userId is not null && pat is not null ? new RocketChatCredentials(userId, pat) : null,
            Discovery = discovery,
            ExpectedInstances = expected,
            MaxHeartbeatAge = maxAge,
        };
    }

    /// <inheritdoc />
    public async Task<RunOutcome> RunAsync(CheckDefinition check, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(check);
        var o = (RocketChatInstancesOptions)check.Options;
        var details = new JsonObject();
        var (instances, problem) = await InstanceDiscovery.FindAsync(_http, o.Discovery, o.ServerUrl, o.Credentials, cancellationToken).ConfigureAwait(false);
        if (problem is not null)
        {
            return new RunOutcome(CheckState.UNKNOWN, problem, null, details);
        }

        var parts = new List<string>();
        var state = CheckState.OK;
        void Add(CheckState s, string text)
        {
            state = CheckStates.Worst(state, s);
            parts.Add(text);
        }

        // The cluster's own view: from discovery when it was instances.get, else read now when credentials allow.
        IReadOnlyList<RocketChatInstanceInfo>? listed = o.Discovery.Type == DiscoveryType.InstancesApi ? instances : null;
        Task<IReadOnlyList<RocketChatInstanceInfo>?> listing = listed is null && o.Credentials is not null && o.ServerUrl is not null
            ? ReadListingAsync(o, cancellationToken)
            : Task.FromResult(listed);
        var infos = await Task.WhenAll(instances.Select(i => ReadInfoAsync(i, o, cancellationToken))).ConfigureAwait(false);
        try
        {
            listed = await listing.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RocketChatAuthException or RocketChatFetchException)
        {
            Add(CheckState.WARNING, $"cannot read instances.get: {ex.Message}");
        }

        var now = _time.GetUtcNow();
        var rows = new JsonArray();
        foreach (var (instance, info) in instances.Zip(infos))
        {
            var entry = listed?.FirstOrDefault(l => l.Address == instance.Address);
            rows.Add(new JsonObject
            {
                ["address"] = instance.Address,
                ["id"] = entry?.Id ?? instance.Id,
                ["answered"] = info.Error is null,
                ["version"] = info.Version,
                ["error"] = info.Error,
                ["connected"] = entry?.Connected,
                ["heartbeatAgeSeconds"] = entry?.LastHeartbeat is { } hb ? Math.Round((now - hb).TotalSeconds, 1) : null,
            });
        }

        details["instances"] = rows;
        int answering = infos.Count(i => i.Error is null);
        var failing = instances.Zip(infos).Where(p => p.Second.Error is not null).Select(p => $"{p.First.Address}: {p.Second.Error}").ToList();
        int needed = Math.Min(2, o.ExpectedInstances ?? 2);
        if (answering < needed)
        {
            Add(CheckState.CRITICAL, answering == 0 ? "no instance answers /api/info" : $"only {answering} instance answers /api/info: no high availability left");
        }
        else if (o.ExpectedInstances is { } expected && answering < expected)
        {
            Add(CheckState.WARNING, $"{answering} of {expected} expected instances answer");
        }

        if (failing.Count > 0)
        {
            Add(answering < needed ? CheckState.CRITICAL : CheckState.WARNING, $"not answering: {string.Join("; ", failing)}");
        }

        var versions = instances.Zip(infos).Where(p => p.Second.Version is not null).GroupBy(p => p.Second.Version!, StringComparer.Ordinal).ToList();
        if (versions.Count > 1)
        {
            Add(CheckState.WARNING, $"versions differ: {string.Join("; ", versions.OrderByDescending(g => g.Count()).Select(g => $"{g.Key} on {string.Join(", ", g.Select(p => p.First.Address))}"))}");
        }

        foreach (var l in listed ?? [])
        {
            if (l.Connected == false)
            {
                Add(CheckState.WARNING, $"instances.get lists {l.Address}{(l.Id is null ? "" : $" ({l.Id})")} as not connected");
            }
            else if (l.LastHeartbeat is { } hb && now - hb > o.MaxHeartbeatAge)
            {
                Add(CheckState.WARNING, $"{l.Address}{(l.Id is null ? "" : $" ({l.Id})")} last heartbeat {Duration.Format(now - hb)} ago (max {Duration.Format(o.MaxHeartbeatAge)})");
            }
        }

        details["perfdata"] = new JsonArray(
            new PerfdataItem("instances", answering, null, o.ExpectedInstances is { } w ? $"{w}:" : null, $"{needed}:", 0, null).ToJson(),
            new PerfdataItem("versions", versions.Count, null, "1", null, 0, null).ToJson());
        string versionText = versions.Count == 1 ? $", version {versions[0].Key}" : "";
        string summary = $"{answering}/{instances.Count} instances answer{versionText}";
        return new RunOutcome(state, parts.Count == 0 ? summary : $"{summary}: {string.Join("; ", parts)}", null, details);
    }

    private async Task<IReadOnlyList<RocketChatInstanceInfo>?> ReadListingAsync(RocketChatInstancesOptions o, CancellationToken ct) =>
        await InstanceDiscovery.ReadInstancesGetAsync(_http, o.ServerUrl!, o.Credentials, o.Discovery.InstancePort, ct).ConfigureAwait(false);

    private async Task<(string? Version, string? Error)> ReadInfoAsync(RocketChatInstanceInfo instance, RocketChatInstancesOptions o, CancellationToken ct)
    {
        try
        {
            using var doc = await RocketChatHttp.WithTimeoutAsync(
                t => RocketChatHttp.GetJsonAsync(_http, new Uri(instance.Url, "api/info"), o.Credentials, t), o.Discovery.InstanceTimeout, _time, ct).ConfigureAwait(false);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (null, "answered JSON that is not an object");
            }

            if (doc.RootElement.TryGetProperty("success", out var ok) && ok.ValueKind == JsonValueKind.False)
            {
                return (null, "answered \"success\": false");
            }

            return (RocketChatHttp.Str(doc.RootElement, "version"), null);
        }
        catch (RocketChatAuthException ex)
        {
            return (null, ex.Message);
        }
        catch (RocketChatFetchException ex)
        {
            return (null, ex.Message);
        }
    }
}
