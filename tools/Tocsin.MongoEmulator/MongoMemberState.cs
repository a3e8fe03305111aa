namespace Tocsin.MongoEmulator;

/// <summary>
/// A replica-set member's state as <c>replSetGetStatus</c> reports it (<c>state</c> is the number, <c>stateStr</c> the text of
/// <see cref="MongoMemberStates.Text"/>). The numbers are the server's.
/// </summary>
public enum MongoMemberState
{
    /// <summary>0 <c>STARTUP</c>: not yet a member with a config.</summary>
    Startup = 0,

    /// <summary>1 <c>PRIMARY</c>: takes writes.</summary>
    Primary = 1,

    /// <summary>2 <c>SECONDARY</c>: replicates; can serve reads.</summary>
    Secondary = 2,

    /// <summary>3 <c>RECOVERING</c>: catching up or in maintenance; serves no reads.</summary>
    Recovering = 3,

    /// <summary>5 <c>STARTUP2</c>: initial sync.</summary>
    Startup2 = 5,

    /// <summary>6 <c>UNKNOWN</c>: state not known to the member reporting.</summary>
    Unknown = 6,

    /// <summary>7 <c>ARBITER</c>: votes, holds no data.</summary>
    Arbiter = 7,

    /// <summary>8 <c>(not reachable/healthy)</c>: how the others report a member that is down.</summary>
    Down = 8,

    /// <summary>9 <c>ROLLBACK</c>: rolling back writes after a failover.</summary>
    Rollback = 9,

    /// <summary>10 <c>REMOVED</c>: no longer in the set's config.</summary>
    Removed = 10,
}

/// <summary>Texts of <see cref="MongoMemberState"/>.</summary>
public static class MongoMemberStates
{
    /// <summary>The server's <c>stateStr</c>: <c>PRIMARY</c>, <c>SECONDARY</c>, <c>(not reachable/healthy)</c>, …</summary>
    public static string Text(MongoMemberState state) => state switch
    {
        MongoMemberState.Startup => "STARTUP",
        MongoMemberState.Primary => "PRIMARY",
        MongoMemberState.Secondary => "SECONDARY",
        MongoMemberState.Recovering => "RECOVERING",
        MongoMemberState.Startup2 => "STARTUP2",
        MongoMemberState.Arbiter => "ARBITER",
        MongoMemberState.Down => "(not reachable/healthy)",
        MongoMemberState.Rollback => "ROLLBACK",
        MongoMemberState.Removed => "REMOVED",
        _ => "UNKNOWN",
    };

    /// <summary>Parses a state by its text (<c>PRIMARY</c>, <c>secondary</c>, <c>down</c>…) or number; case-insensitive.</summary>
    public static bool TryParse(string text, out MongoMemberState state)
    {
        ArgumentNullException.ThrowIfNull(text);
        foreach (var s in Enum.GetValues<MongoMemberState>())
        {
            if (string.Equals(text, Text(s), StringComparison.OrdinalIgnoreCase) || string.Equals(text, s.ToString(), StringComparison.OrdinalIgnoreCase)
                || text == ((int)s).ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                state = s;
                return true;
            }
        }

        state = default;
        return false;
    }
}
