namespace Tocsin.Checks;

/// <summary>
/// The state of a check after a run, with Nagios plugin semantics: the numeric value is the
/// plugin exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
/// </summary>
public enum CheckState
{
    /// <summary>Every expectation held. Exit code 0.</summary>
    OK = 0,
    /// <summary>Working but degraded (e.g. slower than <c>expect.maxDuration</c>). Exit code 1.</summary>
    WARNING = 1,
    /// <summary>Failed: an expectation did not hold, a connection failed or timed out. Exit code 2.</summary>
    CRITICAL = 2,
    /// <summary>The check could not decide (e.g. the runner threw). Exit code 3.</summary>
    UNKNOWN = 3,
}

/// <summary>Ordering and naming helpers for <see cref="CheckState"/>.</summary>
public static class CheckStates
{
    /// <summary>
    /// Severity rank used to pick the worst of several states: OK &lt; WARNING &lt; UNKNOWN &lt; CRITICAL
    /// (as Nagios orders host and service problems for display).
    /// </summary>
    public static int Severity(this CheckState state) => state switch
    {
        CheckState.OK => 0,
        CheckState.WARNING => 1,
        CheckState.UNKNOWN => 2,
        _ => 3,
    };

    /// <summary>Returns the more severe of two states (see <see cref="Severity"/>).</summary>
    public static CheckState Worst(CheckState a, CheckState b) => a.Severity() >= b.Severity() ? a : b;
}
