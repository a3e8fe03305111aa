namespace Tocsin.Checks.RocketChatApps;

/// <summary>How a <c>rocketchat-apps</c> check finds the cluster's instances (config <c>discovery</c>).</summary>
public enum DiscoveryType
{
    /// <summary><c>{"type": "instances-api"}</c> (the default): <c>GET {serverUrl}/api/v1/instances.get</c>, each reached at
    /// <c>http://{address}:{extraInformation.port}</c>.</summary>
    InstancesApi,
    /// <summary><c>{"type": "static", "urls": ["http://10.0.0.5:3000", …]}</c>.</summary>
    Static,
}

/// <summary>
/// Options of a <c>rocketchat-apps</c> check (seed 000's apps monitor): <c>serverUrl</c>, <c>userId</c>, <c>pat</c> (or
/// <c>patEnv</c>/<c>patFile</c>; never logged or shown), <c>appIds</c> (all apps when absent), <c>discovery</c>,
/// <c>instancePort</c> (3000, for instances listed without a port), <c>maxAttempts</c> (1–10, default 3) and <c>dryRun</c>.
/// </summary>
public sealed record RocketChatAppsOptions
{
    /// <summary>The cluster's address (behind its load balancer), e.g. <c>https://chat.example.org/</c>.</summary>
    public required Uri ServerUrl { get; init; }

    /// <summary>The user id sent as <c>X-User-Id</c>.</summary>
    public required string UserId { get; init; }

    /// <summary>The personal access token sent as <c>X-Auth-Token</c>. Secret: never logged, never shown (<see cref="ToString"/> hides it).</summary>
    public required string Pat { get; init; }

    /// <summary>The apps to watch, or empty for all.</summary>
    public IReadOnlyList<string> AppIds { get; init; } = [];

    /// <summary>How instances are found.</summary>
    public DiscoveryType Discovery { get; init; } = DiscoveryType.InstancesApi;

    /// <summary>The instances of a static discovery.</summary>
    public IReadOnlyList<Uri> StaticUrls { get; init; } = [];

    /// <summary>The port of instances listed without one. <value>Default: 3000.</value></summary>
    public int InstancePort { get; init; } = 3000;

    /// <summary>Enable attempts per app and instance before the check gives up (1–10). <value>Default: 3.</value></summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>Report what would be fixed without changing anything. <value>Default: false.</value></summary>
    public bool DryRun { get; init; }

    /// <summary>Everything but the PAT.</summary>
    public override string ToString() =>
        $"rocketchat-apps {ServerUrl} as {UserId} ({Discovery}{(DryRun ? ", dry run" : "")}, apps: {(AppIds.Count == 0 ? "all" : string.Join(",", AppIds))})";
}
