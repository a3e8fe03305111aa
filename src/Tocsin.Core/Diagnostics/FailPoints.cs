using System.Collections.Frozen;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Tocsin.Diagnostics;

/// <summary>
/// Named points in the engine where a test can make the process fail at an exact moment, e.g. kill
/// itself between the central commit of an export batch and the local mark. <b>For tests only.</b>
/// <para>Set with the environment variable <c>TOCSIN_FAILPOINTS</c> when the process starts:
/// <c>name=action</c> pairs separated by <c>;</c> or <c>,</c>. Actions:
/// <c>kill</c> (the process sends itself SIGKILL at the first hit: no flush, no finally blocks, no
/// shutdown, like <c>kill -9</c>), <c>kill@N</c> (at the N-th hit, N ≥ 1), and <c>throw</c> / <c>throw@N</c>
/// (the hit throws a <see cref="FailPointException"/>, as a bug there would). Points: see the constants of
/// this class. Unknown names or actions are reported by <see cref="LogActive"/> and ignored.</para>
/// <para>When the variable is unset, <see cref="Hit"/> costs one read of a static field.</para>
/// </summary>
public static partial class FailPoints
{
    /// <summary>The environment variable read once at start.</summary>
    public const string EnvironmentVariable = "TOCSIN_FAILPOINTS";

    /// <summary>In the exporter, after the batch's central transaction committed and before its rows are marked exported in the outbox.</summary>
    public const string ExportAfterCentralCommit = "export.after-central-commit";

    /// <summary>In the scheduler's loop, at each pass (each wake-up before a due run); <c>throw</c> there stops scheduling as a crash of the loop would.</summary>
    public const string SchedulerLoop = "scheduler.loop";

    private static readonly FrozenSet<string> Known = FrozenSet.ToFrozenSet([ExportAfterCentralCommit, SchedulerLoop], StringComparer.Ordinal);

    private static readonly Parsed? Active = Parse(Environment.GetEnvironmentVariable(EnvironmentVariable));

    /// <summary>Reaches fail point <paramref name="name"/>: does nothing unless <c>TOCSIN_FAILPOINTS</c> arms it.</summary>
    /// <exception cref="FailPointException">When the point is armed with <c>throw</c> and this is the hit it names.</exception>
    public static void Hit(string name)
    {
        if (Active is null)
        {
            return;
        }

        if (Active.Points.TryGetValue(name, out var point) && Interlocked.Increment(ref point.Hits) == point.KillAtHit)
        {
            if (point.Throws)
            {
                throw new FailPointException(name);
            }

            KillSelf();
        }
    }

    /// <summary>
    /// Logs, at Warning, the armed fail points (and at Error the entries that were ignored) so a process
    /// started with them by mistake says so at start; logs nothing when <c>TOCSIN_FAILPOINTS</c> is unset.
    /// </summary>
    public static void LogActive(ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        if (Active is null)
        {
            return;
        }

        foreach (var (name, point) in Active.Points)
        {
            LogArmed(logger, name, point.Throws ? "throw an exception" : "kill itself (SIGKILL)", point.KillAtHit, EnvironmentVariable);
        }

        foreach (string entry in Active.Ignored)
        {
            LogIgnored(logger, entry, EnvironmentVariable, string.Join(", ", Known));
        }
    }

    private static void KillSelf()
    {
        using var self = Process.GetCurrentProcess();
        self.Kill(); // SIGKILL on Unix: nothing after this line runs.
        Environment.FailFast("fail point: SIGKILL did not stop the process");
    }

    /// <summary>Parses a <c>TOCSIN_FAILPOINTS</c> value; null when it is empty.</summary>
    internal static Parsed? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var points = new Dictionary<string, Point>(StringComparer.Ordinal);
        var ignored = new List<string>();
        foreach (string entry in text.Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = entry.IndexOf('=', StringComparison.Ordinal);
            string name = eq < 0 ? entry : entry[..eq].Trim();
            string action = eq < 0 ? "" : entry[(eq + 1)..].Trim();
            long at = 0;
            bool throws = action.StartsWith("throw", StringComparison.Ordinal);
            string verb = throws ? "throw" : "kill";
            if (action == verb)
            {
                at = 1;
            }
            else if (action.StartsWith(verb + "@", StringComparison.Ordinal)
                && long.TryParse(action.AsSpan(verb.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long n) && n >= 1)
            {
                at = n;
            }

            if (at == 0 || !Known.Contains(name))
            {
                ignored.Add(entry);
                continue;
            }

            points[name] = new Point { KillAtHit = at, Throws = throws };
        }

        return new Parsed(points.ToFrozenDictionary(StringComparer.Ordinal), ignored);
    }

    /// <summary>The armed points by name, and the entries that were not understood.</summary>
    internal sealed record Parsed(FrozenDictionary<string, Point> Points, IReadOnlyList<string> Ignored);

    /// <summary>One armed point: the hit (1-based) at which the process kills itself (or throws), and the hits so far.</summary>
    internal sealed class Point
    {
        public long KillAtHit;
        public bool Throws;
        public long Hits;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Fail point {Name} is armed: this process will {Action} at its hit number {Hit}. Set by {Variable}, for tests only")]
    private static partial void LogArmed(ILogger logger, string name, string action, long hit, string variable);

    [LoggerMessage(Level = LogLevel.Error, Message = "Ignored fail point entry \"{Entry}\" in {Variable}: expected name=kill, name=kill@N, name=throw or name=throw@N with a name among {Known}")]
    private static partial void LogIgnored(ILogger logger, string entry, string variable, string known);
}

/// <summary>Thrown by <see cref="FailPoints.Hit"/> at a point armed with <c>throw</c>. <b>For tests only.</b></summary>
public sealed class FailPointException : Exception
{
    /// <summary>Creates the exception for fail point <paramref name="name"/>.</summary>
    public FailPointException(string name)
        : base($"fail point {name} (set by {FailPoints.EnvironmentVariable})")
    {
    }

    /// <summary>Creates the exception with no point name.</summary>
    public FailPointException()
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public FailPointException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
