using Tocsin.Checks.BackupFreshness;
using Tocsin.Checks.Command;
using Tocsin.Checks.Heartbeat;
using Tocsin.Checks.Http;
using Tocsin.Checks.MongoDbReplicaSet;
using Tocsin.Checks.RocketChatApps;
using Tocsin.Checks.Tcp;

namespace Tocsin.Checks;

/// <summary>The check kinds built into Tocsin.</summary>
public static class CheckKinds
{
    /// <summary>
    /// A registry with every built-in kind (<c>http</c>, <c>tcp</c>, <c>command</c>, <c>heartbeat</c>, <c>rocketchat-apps</c>, <c>rocketchat-instances</c>, <c>mongodb-replicaset</c>, <c>backup-freshness</c>); heartbeat checks read
    /// their pings from <paramref name="pings"/> (the agent's, stored in its outbox), or from a memory of their own when null
    /// (enough to read a configuration).
    /// </summary>
    public static CheckKindRegistry CreateDefault(TimeProvider time, HeartbeatPings? pings = null) =>
        new([new HttpCheckKind(new HttpCheckRunner(time)), new TcpCheckKind(time), new CommandCheckKind(time), new HeartbeatCheckKind(time, pings),
            new RocketChatAppsCheckKind(time), new RocketChatInstances.RocketChatInstancesCheckKind(time),
            new MongoDbReplicaSetCheckKind(time), new BackupFreshnessCheckKind(time)]);
}
