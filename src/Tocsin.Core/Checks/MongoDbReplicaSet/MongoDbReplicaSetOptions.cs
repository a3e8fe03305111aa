namespace Tocsin.Checks.MongoDbReplicaSet;

/// <summary>
/// Options of a <c>mongodb-replicaset</c> check (seed 001: the Rocket.Chat deployment's MongoDB replica set): config fields
/// <c>connectionString</c> (or <c>connectionStringEnv</c> / <c>connectionStringFile</c>; a <c>mongodb://</c> or
/// <c>mongodb+srv://</c> URI whose password is never shown), <c>replicaSet</c> (expected set name; default the URI's
/// <c>replicaSet</c>), <c>expectedMembers</c> (1–50), <c>maxLag</c> (default 30s) and <c>criticalLag</c> (default 2 × maxLag).
/// </summary>
public sealed record MongoDbReplicaSetOptions
{
    /// <summary>Where to connect; shown redacted (<c>mongodb://user:***@host1,host2/?replicaSet=rs0</c>).</summary>
    public required MongoConnectionString ConnectionString { get; init; }

    /// <summary>The set name <c>replSetGetStatus</c> must report (<c>set</c>), or null to accept any. <value>Default: the
    /// connection string's <c>replicaSet</c>, else null.</value></summary>
    public string? ReplicaSet { get; init; }

    /// <summary>How many members the set should have, or null not to check. <value>Default: null.</value></summary>
    public int? ExpectedMembers { get; init; }

    /// <summary>Replication lag of a SECONDARY (the PRIMARY's <c>optimeDate</c> minus its own) above which the check is
    /// WARNING. <value>Default: 30 s.</value></summary>
    public TimeSpan MaxLag { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Replication lag above which the check is CRITICAL; at least <see cref="MaxLag"/>. <value>Default: 2 × <see cref="MaxLag"/>.</value></summary>
    public TimeSpan CriticalLag { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Everything, the password hidden.</summary>
    public override string ToString() =>
        $"mongodb-replicaset {ConnectionString.Redacted} (set {ReplicaSet ?? "any"}, members {ExpectedMembers?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "any"}, maxLag {MaxLag}, criticalLag {CriticalLag})";
}
