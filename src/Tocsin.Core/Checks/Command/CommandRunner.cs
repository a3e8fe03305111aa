using System.Buffers;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Tocsin.Checks.Command;

/// <summary>Limits and timings of the <see cref="CommandRunner"/>, set in code (not in the configuration file).</summary>
public sealed record CommandRunnerOptions
{
    /// <summary>
    /// Most command processes running at once across all command checks; a run waits for a slot for at most
    /// <see cref="MaxSlotWait"/> of its timeout.
    /// <value>Default: 4 × processor count, at least 16 and at most 64 (promises mostly wait on I/O).</value>
    /// </summary>
    public int MaxProcesses { get; init; } = Math.Clamp(4 * Environment.ProcessorCount, 16, 64);

    /// <summary>
    /// The part of a check's timeout a run may spend waiting for a process slot (above 0, at most 1). A run that gets no
    /// slot within it is <c>UNKNOWN</c> "did not start: no process slot within …" and no process is started, so every
    /// process that starts has at least the rest of the timeout (half of it by default) to finish: under overload, runs
    /// are refused cheaply instead of being started and killed at the timeout. The timeout still bounds the whole run,
    /// wait included. <value>Default: 0.5.</value>
    /// </summary>
    public double MaxSlotWait { get; init; } = 0.5;

    /// <summary>Time between SIGTERM and SIGKILL to the process group on a timeout or a stop. <value>Default: 2 s.</value></summary>
    public TimeSpan KillGrace { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Bytes of stdout, and of stderr, kept per run; the rest is read and discarded. <value>Default: 64 KiB.</value></summary>
    public int OutputCapBytes { get; init; } = 64 << 10;

    /// <summary>
    /// How long the output pipes may stay open once every process of the group is gone (a process that left the group
    /// can hold them); then they are closed and the output kept so far is used. <value>Default: 1 s.</value>
    /// </summary>
    public TimeSpan OutputDrainTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The <c>setsid</c> program (util-linux) that starts each command in a new session. <value>Default: <c>/usr/bin/setsid</c>.</value></summary>
    public string SetsidPath { get; init; } = "/usr/bin/setsid";
}

/// <summary>
/// Runs <c>command</c> checks as child processes, safely:
/// <list type="bullet">
/// <item>Each run starts in its own session and process group: .NET's <see cref="Process"/> cannot call <c>setsid()</c>
/// between fork and exec, and forking from managed code is unsafe (the runtime is multithreaded), so the command is
/// started as <c>setsid -w program args…</c>. util-linux's <c>setsid</c> calls <c>setsid()</c> and then execs the
/// program in place (the .NET child is never a group leader, so it need not fork): the process .NET watches is the
/// command itself, its exit code is the command's and its pid is the group id.</item>
/// <item>On timeout, or when the agent stops, the whole group gets SIGTERM, then SIGKILL after
/// <see cref="CommandRunnerOptions.KillGrace"/> if any of it is still alive; processes left in the group after a normal
/// exit (a forgotten <c>&amp;</c>) get the same. A run's processes never outlive it, so the next run of the check
/// (the scheduler never overlaps runs of one check) starts clean.</item>
/// <item>stdout and stderr are read concurrently to the end, keeping <see cref="CommandRunnerOptions.OutputCapBytes"/>
/// of each (the rest is read and dropped, so the child never blocks on a full pipe); invalid UTF-8 becomes U+FFFD.</item>
/// <item>At most <see cref="CommandRunnerOptions.MaxProcesses"/> commands run at once across all checks. A run waits for
/// a slot for at most <see cref="CommandRunnerOptions.MaxSlotWait"/> (half) of its timeout, then gives up without
/// starting anything (<c>UNKNOWN</c> "did not start: no process slot within 0.5 s …"): a check's <c>timeout</c> bounds
/// how long its result can take, slot wait included, and a process is only started when it has at least the rest of the
/// timeout to run. (When the whole timeout counted and a run could start at any point in it, a machine under load started
/// processes with a few milliseconds left and killed them at the timeout: work done for no result.)</item>
/// </list>
/// A timeout is <c>CRITICAL</c> "timed out after 60 s" (the check's timeout); a program that is missing, not
/// executable or killed by a signal is <c>UNKNOWN</c> with the reason. Otherwise the <see cref="CommandContract"/>
/// decides. Details add <c>pid</c>, <c>stdoutBytes</c> and <c>stderrBytes</c> (bytes written in all),
/// <c>stdoutTruncated</c> and <c>stderrTruncated</c>, and when they happened <c>timedOut</c>, <c>killSignal</c>
/// (<c>"SIGTERM"</c> or <c>"SIGKILL"</c>, the last signal needed), <c>leftoverProcessesKilled</c>,
/// <c>processesSurvivedKill</c> (still there 2 s after SIGKILL: uninterruptible sleep) and <c>outputIncomplete</c>.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The semaphore's wait handle is never used, so it holds nothing to dispose; the runner lives as long as its kind.")]
public sealed class CommandRunner : ICheckRunner
{
    private static readonly UTF8Encoding Utf8Lenient = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>How long a run waits for its processes to go after SIGKILL.</summary>
    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(2);

    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _slots;
    private int _running;
    private int _peak;

    /// <summary>Creates the runner.</summary>
    /// <exception cref="ArgumentOutOfRangeException">When <see cref="CommandRunnerOptions.MaxProcesses"/> or <see cref="CommandRunnerOptions.OutputCapBytes"/> is below 1, or <see cref="CommandRunnerOptions.MaxSlotWait"/> is not in (0, 1].</exception>
    public CommandRunner(TimeProvider time, CommandRunnerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxProcesses, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.OutputCapBytes, 1);
        if (!(options.MaxSlotWait > 0 && options.MaxSlotWait <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxSlotWait, "MaxSlotWait must be above 0 and at most 1 (a part of the timeout).");
        }
        _time = time;
        Options = options;
        _slots = new SemaphoreSlim(options.MaxProcesses, options.MaxProcesses);
    }

    /// <summary>The limits this runner applies.</summary>
    public CommandRunnerOptions Options { get; }

    /// <summary>Commands running now.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>Most commands that ran at once since the runner was made.</summary>
    public int PeakRunning => Volatile.Read(ref _peak);

    /// <summary>Formats a timeout for messages as seconds: <c>60 s</c>, <c>1.5 s</c>.</summary>
    public static string FormatSeconds(TimeSpan value) =>
        value.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

    /// <inheritdoc />
    /// <exception cref="OperationCanceledException">When the agent stops (<paramref name="cancellationToken"/> cancelled
    /// before the check's timeout): the process group is killed first.</exception>
    public async Task<RunOutcome> RunAsync(CheckDefinition check, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(check);
        var o = (CommandCheckOptions)check.Options;
        long start = _time.GetTimestamp();
        using var timeout = new CancellationTokenSource(check.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        bool TimedOut() => timeout.IsCancellationRequested || _time.GetElapsedTime(start) >= check.Timeout;

        if (Unrunnable(o) is { } reason)
        {
            return new RunOutcome(CheckState.UNKNOWN, reason);
        }

        // Wait for a slot for at most a part of the timeout (half by default), so that a process, once started, has the
        // rest of it to finish; a run that gets no slot in time starts nothing.
        var slotWait = TimeSpan.FromTicks((long)(check.Timeout.Ticks * Options.MaxSlotWait));
        using var slotTimeout = new CancellationTokenSource(slotWait, _time);
        using var waitToken = CancellationTokenSource.CreateLinkedTokenSource(linked.Token, slotTimeout.Token);
        try
        {
            await _slots.WaitAsync(waitToken.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (slotTimeout.IsCancellationRequested || TimedOut())
        {
            return new RunOutcome(
                CheckState.UNKNOWN,
                $"did not start: no process slot within {FormatSeconds(slotWait)} (all {Options.MaxProcesses} busy; a command starts only with at least {FormatSeconds(check.Timeout - slotWait)} of its {FormatSeconds(check.Timeout)} timeout left)",
                null,
                new JsonObject { ["notStarted"] = true, ["slotWaitMs"] = Math.Round(_time.GetElapsedTime(start).TotalMilliseconds, 1) });
        }

        int now = Interlocked.Increment(ref _running);
        int peak;
        while (now > (peak = Volatile.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, now, peak) != peak)
        {
        }

        try
        {
            return await RunProcessAsync(check, o, TimedOut, linked.Token).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
            _slots.Release();
        }
    }

    private async Task<RunOutcome> RunProcessAsync(CheckDefinition check, CommandCheckOptions o, Func<bool> timedOut, CancellationToken token)
    {
        var psi = new ProcessStartInfo(Options.SetsidPath)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.ArgumentList.Add("-w");
        foreach (string a in o.ToArgv())
        {
            psi.ArgumentList.Add(a);
        }

        if (o.WorkingDirectory is not null)
        {
            psi.WorkingDirectory = o.WorkingDirectory;
        }

        foreach (var (name, value) in o.Env)
        {
            psi.Environment[name] = value;
        }

        using var process = new Process { StartInfo = psi };
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            return new RunOutcome(CheckState.UNKNOWN, $"cannot start {Options.SetsidPath}: {ex.Message}");
        }

        int pgid = process.Id;
        var details = new JsonObject { ["pid"] = pgid };
        try
        {
            process.StandardInput.Close(); // the command reads end-of-file, never the agent's stdin
        }
        catch (IOException)
        {
            // It exited already.
        }

        using var abandon = new CancellationTokenSource();
        var stdoutTask = ReadCappedAsync(process.StandardOutput.BaseStream, Options.OutputCapBytes, abandon.Token);
        var stderrTask = ReadCappedAsync(process.StandardError.BaseStream, Options.OutputCapBytes, abandon.Token);

        bool cancelled = false;
        try
        {
            await process.WaitForExitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            cancelled = true;
        }

        (string Signal, bool Gone)? kill = null;
        if (cancelled)
        {
            kill = await KillGroupAsync(pgid, process).ConfigureAwait(false);
            details["killSignal"] = kill.Value.Signal;
        }
        else if (ProcessGroup.HasLiveMember(pgid))
        {
            // The command exited but left processes behind in its group (e.g. "sleep 1000 &").
            kill = await KillGroupAsync(pgid, process).ConfigureAwait(false);
            details["leftoverProcessesKilled"] = true;
        }

        if (kill is { Gone: false })
        {
            details["processesSurvivedKill"] = true;
        }

        var both = Task.WhenAll(stdoutTask, stderrTask);
        if (await Task.WhenAny(both, Task.Delay(Options.OutputDrainTimeout, _time, CancellationToken.None)).ConfigureAwait(false) != both)
        {
            // A process that left the group holds a pipe open: stop reading; what was read is used.
            details["outputIncomplete"] = true;
            await abandon.CancelAsync().ConfigureAwait(false);
            process.StandardOutput.BaseStream.Dispose();
            process.StandardError.BaseStream.Dispose();
            await Task.WhenAny(both, Task.Delay(Options.OutputDrainTimeout, _time, CancellationToken.None)).ConfigureAwait(false);
        }

        var stdout = stdoutTask.IsCompletedSuccessfully ? stdoutTask.Result : CappedOutput.Empty;
        var stderr = stderrTask.IsCompletedSuccessfully ? stderrTask.Result : CappedOutput.Empty;
        if (cancelled && !timedOut())
        {
            throw new OperationCanceledException("The agent is stopping; the command's process group was killed.", token);
        }

        RunOutcome outcome;
        if (cancelled)
        {
            details["timedOut"] = true;
            if (stdout.Text.Length > 0)
            {
                details["stdout"] = CommandContract.Excerpt(stdout.Text);
            }

            if (stderr.Text.Length > 0)
            {
                details["stderr"] = CommandContract.Excerpt(stderr.Text);
            }

            outcome = new RunOutcome(CheckState.CRITICAL, $"timed out after {FormatSeconds(check.Timeout)}", null, details);
        }
        else
        {
            int exitCode = process.ExitCode;
            if (exitCode is 126 or 127 && stderr.Text.StartsWith("setsid: failed to execute ", StringComparison.Ordinal))
            {
                // setsid could not exec the program (not found, permission denied, bad interpreter, …).
                string why = stderr.Text.Split('\n')[0]["setsid: ".Length..].Trim();
                details["exitCode"] = exitCode;
                outcome = new RunOutcome(CheckState.UNKNOWN, $"cannot run: {why}", null, details);
            }
            else
            {
                outcome = CommandContract.Evaluate(exitCode, stdout.Text, stderr.Text);
                foreach (var (key, value) in details)
                {
                    outcome.Details![key] = value?.DeepClone();
                }
            }
        }

        var d = outcome.Details!;
        d["stdoutBytes"] = stdout.TotalBytes;
        d["stderrBytes"] = stderr.TotalBytes;
        d["stdoutTruncated"] = stdout.Truncated;
        d["stderrTruncated"] = stderr.Truncated;
        return outcome;
    }

    /// <summary>
    /// SIGTERM to the group, then SIGKILL after the grace if any of it lives; returns the last signal sent and whether
    /// the group is gone (a process in uninterruptible sleep, stuck on a dead NFS server say, can outlive even SIGKILL:
    /// the run then ends anyway after <see cref="KillWait"/>).
    /// </summary>
    private async Task<(string Signal, bool Gone)> KillGroupAsync(int pgid, Process leader)
    {
        ProcessGroup.Signal(pgid, ProcessGroup.SigTerm, leader);
        if (await WaitGoneAsync(pgid, leader, Options.KillGrace).ConfigureAwait(false))
        {
            return ("SIGTERM", true);
        }

        ProcessGroup.Signal(pgid, ProcessGroup.SigKill, leader);
        return ("SIGKILL", await WaitGoneAsync(pgid, leader, KillWait).ConfigureAwait(false));
    }

    private async Task<bool> WaitGoneAsync(int pgid, Process leader, TimeSpan limit)
    {
        long t0 = _time.GetTimestamp();
        while (true)
        {
            if (leader.HasExited && !ProcessGroup.HasLiveMember(pgid))
            {
                return true;
            }

            if (_time.GetElapsedTime(t0) >= limit)
            {
                return false;
            }

            await Task.Delay(PollInterval, _time).ConfigureAwait(false);
        }
    }

    /// <summary>Why the command cannot run at all (program or working directory missing, not executable), or null.</summary>
    private static string? Unrunnable(CommandCheckOptions o)
    {
        if (o.WorkingDirectory is { } wd && !Directory.Exists(wd))
        {
            return $"working directory not found: {wd}";
        }

        string program = o.Shell ? CommandCheckOptions.ShellPath : o.Command[0];
        string? path = program.Contains('/', StringComparison.Ordinal) ? program : FindInPath(program, o);
        if (path is null)
        {
            return $"executable not found in PATH: {program}";
        }

        if (Directory.Exists(path))
        {
            return $"not executable: {path} is a directory";
        }

        if (!File.Exists(path))
        {
            return $"executable not found: {path}";
        }

        var mode = OperatingSystem.IsWindows() ? UnixFileMode.UserExecute : File.GetUnixFileMode(path);
        if ((mode & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) == 0)
        {
            return $"not executable: {path} (mode {Convert.ToString((int)mode & 0x1FF, 8).PadLeft(4, '0')}, no execute permission)";
        }

        return null; // further refusals (ownership, a bad interpreter line) come back from setsid as exit 126/127
    }

    private static string? FindInPath(string name, CommandCheckOptions o)
    {
        string? pathVar = o.Env.TryGetValue("PATH", out var p) ? p : Environment.GetEnvironmentVariable("PATH");
        foreach (string dir in (pathVar ?? "/usr/local/bin:/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static async Task<CappedOutput> ReadCappedAsync(Stream stream, int cap, CancellationToken abandon)
    {
        byte[] kept = ArrayPool<byte>.Shared.Rent(cap);
        byte[] scratch = ArrayPool<byte>.Shared.Rent(16 << 10);
        try
        {
            int count = 0;
            long total = 0;
            while (true)
            {
                int n;
                try
                {
                    n = count < cap
                        ? await stream.ReadAsync(kept.AsMemory(count, cap - count), abandon).ConfigureAwait(false)
                        : await stream.ReadAsync(scratch, abandon).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or IOException)
                {
                    break; // abandoned: keep what was read
                }

                if (n == 0)
                {
                    break;
                }

                total += n;
                if (count < cap)
                {
                    count += n;
                }
            }

            return new CappedOutput(Utf8Lenient.GetString(kept, 0, count), total, total > count);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(kept);
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    private sealed record CappedOutput(string Text, long TotalBytes, bool Truncated)
    {
        public static readonly CappedOutput Empty = new("", 0, false);
    }
}
