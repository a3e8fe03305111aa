using System.Globalization;
using System.Text.Json.Nodes;
using Tocsin.Checks.Command;

namespace Tocsin.Checks.MongoDbReplicaSet;

/// <summary>
/// Judges a <see cref="ReplicaSetStatus"/> against <see cref="MongoDbReplicaSetOptions"/> (seed 001: exactly one PRIMARY, the
/// rest SECONDARY, all <c>health: 1</c>, small replication lag). Each finding raises the state to at least:
/// <list type="bullet">
/// <item>CRITICAL: the set's name differs from the expected one; no PRIMARY; more than one PRIMARY (split brain); fewer healthy
/// members than <c>majorityVoteCount</c> (majority lost: no primary can be elected or stay); a SECONDARY's lag above
/// <c>criticalLag</c>.</item>
/// <item>WARNING: a member not healthy (health 0, or a state other than PRIMARY, SECONDARY, ARBITER) while a majority is
/// healthy — the set still works but one more failure stops it; a SECONDARY's lag above <c>maxLag</c>; a member count other
/// than <c>expectedMembers</c>.</item>
/// </list>
/// Lag: for each healthy SECONDARY, the reference <c>optimeDate</c> minus its own, never negative. The reference is the
/// PRIMARY's (the newest of them when there are several); without a PRIMARY, the newest <c>optimeDate</c> of the healthy
/// members. Members that are down, arbiters and members in other states have no lag (null). Majority counts every member
/// as one vote (votes are not in <c>replSetGetStatus</c>); the threshold is the answer's <c>majorityVoteCount</c>.
/// </summary>
public static class ReplicaSetVerdict
{
    /// <summary>The state, one-line message and details (<c>set</c>, <c>reportedBy</c>, <c>members</c>:
    /// [{<c>id</c>, <c>name</c>, <c>state</c> (stateStr), <c>stateCode</c>, <c>health</c>, <c>lagSeconds</c> (number or null),
    /// <c>optimeDate</c> (ISO 8601 or null), <c>message</c>?}], <c>maxLagSeconds</c> (or null), <c>primaries</c>, and
    /// <c>perfdata</c>: <c>max_lag</c> (s, warn/crit thresholds), <c>members</c>, <c>healthy_members</c>, <c>primaries</c>).</summary>
    public static RunOutcome Judge(ReplicaSetStatus status, MongoDbReplicaSetOptions options)
    {
        ArgumentNullException.ThrowIfNull(status);
        ArgumentNullException.ThrowIfNull(options);
        var members = status.Members;
        var primaries = members.Where(m => m.State == ReplicaSetMember.Primary && m.Health == 1).ToList();
        var healthy = members.Where(m => m.IsHealthy).ToList();
        DateTimeOffset? reference = primaries.Count > 0
            ? primaries.Max(p => p.OptimeDate)
            : healthy.Max(m => m.OptimeDate);
        var lags = members.Select(m => Lag(m, reference)).ToList();
        var known = lags.OfType<TimeSpan>().ToList();
        double? maxLag = known.Count > 0 ? Math.Round(known.Max().TotalSeconds, 3) : null;

        var state = CheckState.OK;
        var problems = new List<string>();
        void Add(CheckState s, string text)
        {
            state = CheckStates.Worst(state, s);
            problems.Add(text);
        }

        if (options.ReplicaSet is { } expectedSet && status.Set != expectedSet)
        {
            Add(CheckState.CRITICAL, $"set name is \"{status.Set}\", expected \"{expectedSet}\"");
        }

        if (primaries.Count == 0)
        {
            Add(CheckState.CRITICAL, "no PRIMARY");
        }
        else if (primaries.Count > 1)
        {
            Add(CheckState.CRITICAL, $"{primaries.Count} PRIMARY members ({string.Join(", ", primaries.Select(p => p.Name))})");
        }

        var unhealthy = members.Where(m => !m.IsHealthy).ToList();
        if (unhealthy.Count > 0)
        {
            string list = string.Join(", ", unhealthy.Select(m => $"{m.Name} {m.StateText}{(m.Health == 1 ? "" : " health 0")}"));
            if (healthy.Count < status.MajorityVoteCount)
            {
                Add(CheckState.CRITICAL, $"majority lost: {healthy.Count} of {members.Count} members healthy, {status.MajorityVoteCount} needed ({list})");
            }
            else
            {
                Add(CheckState.WARNING, $"{unhealthy.Count} member(s) not healthy, majority holds ({list})");
            }
        }

        foreach (var (member, lag) in members.Zip(lags))
        {
            if (lag is { } l && l > options.CriticalLag)
            {
                Add(CheckState.CRITICAL, $"{member.Name} lags {Seconds(l)} (> {Seconds(options.CriticalLag)})");
            }
            else if (lag is { } w && w > options.MaxLag)
            {
                Add(CheckState.WARNING, $"{member.Name} lags {Seconds(w)} (> {Seconds(options.MaxLag)})");
            }
        }

        if (options.ExpectedMembers is { } expected && members.Count != expected)
        {
            Add(CheckState.WARNING, $"{members.Count} members, expected {expected}");
        }

        string memberList = string.Join(", ", members.Zip(lags).Select(p => $"{p.First.Name} {p.First.StateText}{(p.Second is { } l ? $" lag {Seconds(l)}" : "")}"));
        string head = $"replica set {(status.Set.Length == 0 ? "(no name)" : status.Set)}";
        string message = problems.Count == 0
            ? $"{head}: {members.Count} members healthy: {memberList}"
            : $"{head}: {string.Join("; ", problems)}; members: {memberList}";

        var details = new JsonObject
        {
            ["set"] = status.Set,
            ["reportedBy"] = members.FirstOrDefault(m => m.Self)?.Name,
            ["members"] = new JsonArray([.. members.Zip(lags).Select(p => (JsonNode)Row(p.First, p.Second))]),
            ["maxLagSeconds"] = maxLag,
            ["primaries"] = new JsonArray([.. primaries.Select(p => (JsonNode)p.Name)]),
            ["perfdata"] = new JsonArray(
                new PerfdataItem("max_lag", maxLag, "s", Number(options.MaxLag.TotalSeconds), Number(options.CriticalLag.TotalSeconds), 0, null).ToJson(),
                new PerfdataItem("members", members.Count, null, null, null, 0, null).ToJson(),
                new PerfdataItem("healthy_members", healthy.Count, null, null, null, 0, members.Count).ToJson(),
                new PerfdataItem("primaries", primaries.Count, null, null, null, 0, null).ToJson()),
        };
        return new RunOutcome(state, message, null, details);
    }

    private static JsonObject Row(ReplicaSetMember m, TimeSpan? lag)
    {
        var row = new JsonObject
        {
            ["id"] = m.Id,
            ["name"] = m.Name,
            ["state"] = m.StateText,
            ["stateCode"] = m.State,
            ["health"] = m.Health,
            ["lagSeconds"] = lag is { } l ? Math.Round(l.TotalSeconds, 3) : null,
            ["optimeDate"] = m.OptimeDate?.ToString("O", CultureInfo.InvariantCulture),
        };
        if (m.HeartbeatMessage is { } message)
        {
            row["message"] = message;
        }

        return row;
    }

    private static TimeSpan? Lag(ReplicaSetMember m, DateTimeOffset? reference) =>
        m.State == ReplicaSetMember.Secondary && m.Health == 1 && m.OptimeDate is { } own && reference is { } r
            ? (r > own ? r - own : TimeSpan.Zero)
            : null;

    /// <summary>Seconds with up to 3 decimals and the unit: <c>45s</c>, <c>2.1s</c>.</summary>
    internal static string Seconds(TimeSpan t) => string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.###}s");

    private static string Number(double n) => n.ToString("0.###", CultureInfo.InvariantCulture);
}
