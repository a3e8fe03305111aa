using Tocsin.Checks.RocketChat;

namespace Tocsin.Checks.RocketChatApps;

/// <summary>
/// Options of a <c>rocketchat-apps</c> check (seed 000's apps monitor): <c>serverUrl</c>, <c>userId</c>, <c>pat</c> (or
/// <c>patEnv</c>/<c>patFile</c>; never logged or shown), <c>appIds</c> (all apps when absent), <c>alertRoom</c>, <c>discovery</c>
/// with <c>instancePort</c> (3000, for instances listed without a port), <c>maxAttempts</c> (1–10, default 3) and <c>dryRun</c>.
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

    /// <summary>
    /// The room id (or <c>#channel</c>) that gets this check's problems and recoveries through <c>chat.sendMessage</c> on
    /// <see cref="ServerUrl"/> with the same credentials (config <c>alertRoom</c>; seed 000's <c>alertRoom</c>), or null.
    /// </summary>
    public string? AlertRoom { get; init; }

    /// <summary>How instances are found.</summary>
    public InstanceDiscoveryOptions Discovery { get; init; } = new();

    /// <summary>Enable attempts per app and instance before the check gives up (1–10). <value>Default: 3.</value></summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>Report what would be fixed without changing anything. <value>Default: false.</value></summary>
    public bool DryRun { get; init; }

    /// <summary>The credentials of <see cref="UserId"/> and <see cref="Pat"/>.</summary>
    public RocketChatCredentials Credentials => new(UserId, Pat);

    /// <summary>Everything but the PAT.</summary>
    public override string ToString() =>
        $"rocketchat-apps {ServerUrl} as {UserId} ({Discovery.Describe()}{(DryRun ? ", dry run" : "")}, apps: {(AppIds.Count == 0 ? "all" : string.Join(",", AppIds))})";
}
