using MongoDB.Bson;

namespace Tocsin.Checks.MongoDbReplicaSet;

/// <summary>One entry of <c>replSetGetStatus</c>'s <c>members</c> array.</summary>
/// <param name="Id">The member's <c>_id</c>.</param>
/// <param name="Name"><c>host:port</c>.</param>
/// <param name="Health"><c>health</c>: 1 up, 0 down (as seen by the member that answered).</param>
/// <param name="State"><c>state</c>: 1 PRIMARY, 2 SECONDARY, 7 ARBITER, 8 down, 3 RECOVERING, …</param>
/// <param name="StateText"><c>stateStr</c>, e.g. <c>PRIMARY</c>, <c>(not reachable/healthy)</c>.</param>
/// <param name="OptimeDate"><c>optimeDate</c>: when its last applied write was made; null when absent (an arbiter) or the
/// epoch (a member that is down).</param>
/// <param name="Self"><c>self: true</c>: the member that answered.</param>
/// <param name="HeartbeatMessage"><c>lastHeartbeatMessage</c> when not empty (why it is unreachable), else null.</param>
public sealed record ReplicaSetMember(int Id, string Name, int Health, int State, string StateText, DateTimeOffset? OptimeDate, bool Self, string? HeartbeatMessage)
{
    /// <summary>State 1.</summary>
    public const int Primary = 1;

    /// <summary>State 2.</summary>
    public const int Secondary = 2;

    /// <summary>State 7.</summary>
    public const int Arbiter = 7;

    /// <summary>Up and in a state that serves the set: PRIMARY, SECONDARY or ARBITER, with health 1.</summary>
    public bool IsHealthy => Health == 1 && State is Primary or Secondary or Arbiter;
}

/// <summary>
/// What <c>replSetGetStatus</c> (run on the <c>admin</c> database) answered: <c>{"set", "date", "myState", "majorityVoteCount"?,
/// "members": [{"_id", "name", "health", "state", "stateStr", "optimeDate"?, "self"?, "lastHeartbeatMessage"?, …}], "ok": 1}</c>.
/// </summary>
/// <param name="Set"><c>set</c>: the replica set's name.</param>
/// <param name="MyState"><c>myState</c> of the member that answered.</param>
/// <param name="MajorityVoteCount"><c>majorityVoteCount</c> (MongoDB 4.4+), else a majority of the members.</param>
/// <param name="Members">The members in the order given.</param>
public sealed record ReplicaSetStatus(string Set, int MyState, int MajorityVoteCount, IReadOnlyList<ReplicaSetMember> Members)
{
    /// <summary>Reads the answer; fields of the wrong type or missing get neutral values (health 0, state 6 UNKNOWN).</summary>
    /// <exception cref="FormatException">When <c>members</c> is missing or not an array.</exception>
    public static ReplicaSetStatus Parse(BsonDocument document)
    {
        ArgumentNullException.ThrowIfNull(document);
        if (!document.TryGetValue("members", out var membersValue) || !membersValue.IsBsonArray)
        {
            throw new FormatException("replSetGetStatus answered without a \"members\" array");
        }

        var members = new List<ReplicaSetMember>();
        foreach (var value in membersValue.AsBsonArray)
        {
            if (!value.IsBsonDocument)
            {
                continue;
            }

            var m = value.AsBsonDocument;
            DateTimeOffset? optime = m.TryGetValue("optimeDate", out var od) && od.IsValidDateTime
                ? new DateTimeOffset(od.ToUniversalTime(), TimeSpan.Zero)
                : null;
            if (optime is { } o && o.ToUnixTimeMilliseconds() <= 0)
            {
                optime = null;
            }

            int state = Int(m, "state", 6);
            members.Add(new ReplicaSetMember(
                Int(m, "_id", members.Count),
                m.TryGetValue("name", out var n) && n.IsString ? n.AsString : $"member {members.Count}",
                Int(m, "health", 0),
                state,
                m.TryGetValue("stateStr", out var s) && s.IsString ? s.AsString : $"state {state}",
                optime,
                m.TryGetValue("self", out var self) && self.IsBoolean && self.AsBoolean,
                m.TryGetValue("lastHeartbeatMessage", out var hb) && hb.IsString && hb.AsString.Length > 0 ? hb.AsString : null));
        }

        int majority = Int(document, "majorityVoteCount", 0);
        return new ReplicaSetStatus(
            document.TryGetValue("set", out var set) && set.IsString ? set.AsString : "",
            Int(document, "myState", 6),
            majority > 0 ? majority : (members.Count / 2) + 1,
            members);
    }

    private static int Int(BsonDocument d, string name, int fallback) =>
        d.TryGetValue(name, out var v) && v.IsNumeric ? (int)v.ToDouble() : fallback;
}
