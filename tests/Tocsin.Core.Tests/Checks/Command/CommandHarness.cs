using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Tocsin.Checks;
using Tocsin.Checks.Command;
using Tocsin.Configuration;
using Tocsin.Diagnostics;
using Tocsin.Scheduling;

namespace Tocsin.Core.Tests.Checks.Command;

/// <summary>
/// A temp folder for small /bin/sh scripts plus a command kind (with a short kill grace unless told otherwise), a loader
/// and a real <see cref="CheckExecutor"/> on the system clock.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal sealed class CommandHarness : IDisposable
{
    private readonly TempFolder _folder = new();

    public CommandHarness(CommandRunnerOptions? options = null)
    {
        Kind = new CommandCheckKind(TimeProvider.System, options ?? new CommandRunnerOptions { KillGrace = TimeSpan.FromMilliseconds(500) });
        var kinds = new CheckKindRegistry([Kind]);
        Loader = new ConfigLoader(kinds);
        Executor = new CheckExecutor(kinds, TimeProvider.System, new TocsinMetrics(), NullLogger<CheckExecutor>.Instance);
    }

    public CommandCheckKind Kind { get; }

    public CommandRunner Runner => (CommandRunner)Kind.Runner;

    public ConfigLoader Loader { get; }

    public CheckExecutor Executor { get; }

    public string Folder => _folder.Path;

    public string File(string name) => _folder.File(name);

    /// <summary>Writes an executable /bin/sh script and returns its path.</summary>
    public string Script(string name, string body)
    {
        string path = _folder.File(name);
        System.IO.File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        System.IO.File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    /// <summary>A command check running <paramref name="argv"/>; <paramref name="extra"/> adds fields (JSON members, comma first).</summary>
    public CheckDefinition Check(string[] argv, string extra = "") =>
        Parse($$"""{ "name": "c", "kind": "command", "command": {{JsonSerializer.Serialize(argv)}} {{extra}} }""");

    public CheckDefinition Parse(string checkJson)
    {
        var config = Loader.Parse($$"""{ "checks": [ {{checkJson}} ] }""", Path.Combine(Folder, "config.json"));
        return Assert.Single(config.Checks);
    }

    /// <summary>Runs a script body once through the executor.</summary>
    public Task<CheckResult> RunScriptAsync(string body, string extra = "") => RunAsync(Check([Script("s-" + Guid.NewGuid().ToString("N")[..8], body)], extra));

    public Task<CheckResult> RunAsync(CheckDefinition check) =>
        Executor.RunAsync(check, DateTimeOffset.UtcNow, TestContext.Current.CancellationToken);

    /// <summary>Whether process <paramref name="pid"/> is gone (no /proc entry) or a zombie waiting to be reaped.</summary>
    public static bool IsGone(int pid)
    {
        try
        {
            string stat = System.IO.File.ReadAllText($"/proc/{pid}/stat");
            char state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is 'Z' or 'X';
        }
        catch (IOException)
        {
            return true;
        }
    }

    public int ReadPid(string name) => int.Parse(System.IO.File.ReadAllText(File(name)).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    public void Dispose() => _folder.Dispose();
}
