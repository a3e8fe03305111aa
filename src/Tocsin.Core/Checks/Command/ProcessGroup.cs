using System.Globalization;
using System.Runtime.InteropServices;

namespace Tocsin.Checks.Command;

/// <summary>
/// Signals and watches the process group (a session, in fact) that a command runs in. The command is started through
/// <c>setsid</c>, so its process id is also its process group id and every process it forks stays in that group unless
/// it leaves on purpose; <c>kill(-pgid, sig)</c> then reaches all of them, grandchildren included.
/// </summary>
internal static partial class ProcessGroup
{
    /// <summary>SIGTERM: asks the processes to stop.</summary>
    public const int SigTerm = 15;

    /// <summary>SIGKILL: stops them.</summary>
    public const int SigKill = 9;

    private const int Esrch = 3;

    /// <summary>
    /// Sends <paramref name="signal"/> to every process of group <paramref name="pgid"/>. When the group does not exist
    /// (yet: <c>setsid</c> has not run), falls back to the leader alone while it has not exited.
    /// </summary>
    public static void Signal(int pgid, int signal, System.Diagnostics.Process leader)
    {
        if (Kill(-pgid, signal) == 0)
        {
            return;
        }

        if (Marshal.GetLastPInvokeError() == Esrch && !leader.HasExited)
        {
            _ = Kill(pgid, signal);
        }
    }

    /// <summary>
    /// Whether group <paramref name="pgid"/> still has a live (not zombie) process. Cheap when the group is gone
    /// (one <c>kill(-pgid, 0)</c>); otherwise reads <c>/proc/*/stat</c>, since zombies that the system has not
    /// reaped yet still make the group exist.
    /// </summary>
    public static bool HasLiveMember(int pgid)
    {
        if (Kill(-pgid, 0) != 0 && Marshal.GetLastPInvokeError() == Esrch)
        {
            return false;
        }

        try
        {
            foreach (string dir in Directory.EnumerateDirectories("/proc"))
            {
                string name = Path.GetFileName(dir);
                if (name.Length == 0 || !char.IsAsciiDigit(name[0]) || ReadStat(dir) is not { } stat)
                {
                    continue;
                }

                if (stat.Pgid == pgid && stat.State is not ('Z' or 'X'))
                {
                    return true;
                }
            }

            return false;
        }
        catch (IOException)
        {
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }
    }

    /// <summary>State and process group of <c>/proc/N/stat</c> (fields 3 and 5; the command name may hold spaces and parentheses).</summary>
    internal static (char State, int Pgid)? ReadStat(string procDir)
    {
        string text;
        try
        {
            text = File.ReadAllText(Path.Combine(procDir, "stat"));
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        int close = text.LastIndexOf(')');
        if (close < 0)
        {
            return null;
        }

        string[] fields = text[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 3 || fields[0].Length != 1 || !int.TryParse(fields[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out int pgid))
        {
            return null;
        }

        return (fields[0][0], pgid);
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Kill(int pid, int signal);
}
