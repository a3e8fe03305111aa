using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Tocsin.IntegrationTests.Fixtures;

/// <summary>What a finished <c>tocsin</c> child printed and returned.</summary>
public sealed record CliRun(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}{Environment.NewLine}stdout:{Environment.NewLine}{Stdout}{Environment.NewLine}stderr:{Environment.NewLine}{Stderr}";
}

/// <summary>
/// The real <c>tocsin</c> executable as a child process: <c>dotnet &lt;test output&gt;/tocsin.dll …</c> with
/// stdin redirected (so it is not a terminal; left open), stdout and stderr read asynchronously,
/// HOME set to the given folder and TOCSIN_CONFIG unset unless given. Dispose kills it if still running.
/// </summary>
public sealed class TocsinProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private TocsinProcess(Process process) => _process = process;

    /// <summary>The built <c>tocsin.dll</c>, copied beside the tests.</summary>
    public static string Dll { get; } = Path.Combine(AppContext.BaseDirectory, "tocsin.dll");

    /// <summary>Longest a short command (config edits, status, --once) may take.</summary>
    public static readonly TimeSpan ShortCommandDeadline = TimeSpan.FromSeconds(60);

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Stdout
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Stdout and stderr so far, for failure messages.</summary>
    public string Output => $"stdout:{Environment.NewLine}{Stdout}{Environment.NewLine}stderr:{Environment.NewLine}{Stderr}";

    /// <summary>Starts <c>tocsin <paramref name="args"/></c>.</summary>
    /// <param name="home">HOME of the child (a temp folder, so nothing touches the real ~/.tocsin).</param>
    /// <param name="args">Arguments after <c>tocsin</c>.</param>
    /// <param name="environment">Extra environment variables (a null value removes one).</param>
    public static TocsinProcess Start(string home, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = home,
        };
        psi.ArgumentList.Add(Dll);
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["HOME"] = home;
        psi.Environment.Remove("TOCSIN_CONFIG");
        psi.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                psi.Environment.Remove(key);
            }
            else
            {
                psi.Environment[key] = value;
            }
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var child = new TocsinProcess(process);
        process.OutputDataReceived += (_, e) => child.Append(child._stdout, child._stdoutClosed, e.Data);
        process.ErrorDataReceived += (_, e) => child.Append(child._stderr, child._stderrClosed, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Runs <c>tocsin <paramref name="args"/></c> to its end and returns what it printed.</summary>
    public static async Task<CliRun> RunAsync(string home, IReadOnlyDictionary<string, string?>? environment, params string[] args)
    {
        await using var child = Start(home, args, environment);
        int code = await child.WaitForExitAsync(ShortCommandDeadline);
        return new CliRun(code, child.Stdout, child.Stderr);
    }

    /// <summary>Runs <c>tocsin <paramref name="args"/></c> with <paramref name="input"/> piped on stdin (then closed).</summary>
    public static async Task<CliRun> RunWithInputAsync(string home, string input, params string[] args)
    {
        await using var child = Start(home, args);
        await child._process.StandardInput.WriteAsync(input);
        child._process.StandardInput.Close();
        int code = await child.WaitForExitAsync(ShortCommandDeadline);
        return new CliRun(code, child.Stdout, child.Stderr);
    }

    /// <summary>Runs <c>tocsin <paramref name="args"/></c> with HOME = <paramref name="home"/>.</summary>
    public static Task<CliRun> RunAsync(string home, params string[] args) => RunAsync(home, null, args);

    /// <summary>Waits for the child to exit and its output to be read; returns the exit code.</summary>
    /// <exception cref="TimeoutException">When it is still running after <paramref name="deadline"/>.</exception>
    public async Task<int> WaitForExitAsync(TimeSpan deadline)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(deadline);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            await Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task).WaitAsync(cts.Token);
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"tocsin (pid {Id}) still running after {deadline.TotalSeconds} s.{Environment.NewLine}{Output}");
        }

        return _process.ExitCode;
    }

    /// <summary>Sends a signal with the <c>kill</c> command, e.g. <c>TERM</c> or <c>INT</c>.</summary>
    public void Signal(string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Kills the child with SIGKILL (no chance to clean up) and waits for it to be gone.</summary>
    public async Task KillHardAsync()
    {
        _process.Kill(entireProcessTree: true);
        await WaitForExitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>The JSON log lines written to stderr so far (logs are JSON when stderr is redirected).</summary>
    public IReadOnlyList<JsonElement> LogLines()
    {
        var lines = new List<JsonElement>();
        foreach (string line in Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith('{'))
            {
                try
                {
                    using var doc = JsonDocument.Parse(line);
                    lines.Add(doc.RootElement.Clone());
                }
                catch (JsonException)
                {
                    // A line cut by a kill; ignore it.
                }
            }
        }

        return lines;
    }

    /// <summary>The first log line whose message starts with <paramref name="prefix"/>, or null.</summary>
    public JsonElement? FindLog(string prefix)
    {
        foreach (var line in LogLines())
        {
            if (line.TryGetProperty("Message", out var m) && m.GetString() is { } text && text.StartsWith(prefix, StringComparison.Ordinal))
            {
                return line;
            }
        }

        return null;
    }

    /// <summary>The URL the web server listens on, from the "Now listening on: …" log line.</summary>
    public async Task<Uri> ListeningAddressAsync(TimeSpan deadline)
    {
        const string Prefix = "Now listening on: ";
        var line = await Poll.UntilAsync(
            () => HasExited ? throw new InvalidOperationException($"tocsin exited before listening.{Environment.NewLine}{Output}") : FindLog(Prefix),
            l => l is not null, deadline, "the web server to listen", () => Output);
        return new Uri(line!.Value.GetProperty("Message").GetString()![Prefix.Length..]);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }
        finally
        {
            _process.Dispose();
        }
    }

    private void Append(StringBuilder sb, TaskCompletionSource closed, string? line)
    {
        if (line is null)
        {
            closed.TrySetResult();
            return;
        }

        lock (sb)
        {
            sb.AppendLine(line);
        }
    }
}
