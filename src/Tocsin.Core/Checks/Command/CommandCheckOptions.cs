namespace Tocsin.Checks.Command;

/// <summary>
/// Options of a <c>command</c> check (a SlapOS promise or a Nagios plugin). Configuration:
/// <code>
/// { "name": "disk", "kind": "command", "command": ["/usr/lib/nagios/plugins/check_disk", "-w", "10%", "-p", "/"],
///   "workingDirectory": "/var/lib/tocsin", "env": {"LC_ALL": "C"}, "interval": "5m", "timeout": "60s" }
/// { "name": "backup", "kind": "command", "shell": true, "command": "test -n \"$(find /backup -mmin -1500)\"" }
/// </code>
/// The check's <c>timeout</c> bounds the run; when neither the check nor <c>defaults.timeout</c> set one, a command
/// check gets <see cref="CommandCheckKind.DefaultCommandTimeout"/> (60 s), cut like every implicit timeout to 80 % of
/// the interval (so 24 s with the default 30 s interval).
/// </summary>
/// <param name="Command">
/// Without <see cref="Shell"/>: the program and its arguments, run directly (no shell, no globbing, no variable
/// expansion). The program is an absolute path, a path relative to the configuration file's folder (when it holds a
/// <c>/</c>), or a bare name looked up in <c>PATH</c>. With <see cref="Shell"/>: one element, the command line given
/// to <c>/bin/sh -c</c>.
/// </param>
/// <param name="Shell">Whether <see cref="Command"/> is a shell command line run by <c>/bin/sh -c</c>. <value>Default: false.</value></param>
/// <param name="WorkingDirectory">The folder the command runs in (relative paths resolved against the configuration file's
/// folder), or <see langword="null"/> for the agent's working directory.</param>
/// <param name="Env">Environment variables added to (or replacing in) the agent's environment, by exact (case-sensitive) name.
/// <value>Default: none.</value></param>
public sealed record CommandCheckOptions(
    IReadOnlyList<string> Command,
    bool Shell,
    string? WorkingDirectory,
    IReadOnlyDictionary<string, string> Env)
{
    /// <summary>The shell used when <see cref="Shell"/> is set.</summary>
    public const string ShellPath = "/bin/sh";

    /// <summary>What is executed: <see cref="Command"/>, or <c>/bin/sh -c &lt;command line&gt;</c> with <see cref="Shell"/>.</summary>
    /// <remarks>A method, not a property, so that definition views listing the options' properties show it once.</remarks>
    public IReadOnlyList<string> ToArgv() => Shell ? [ShellPath, "-c", Command[0]] : Command;
}
