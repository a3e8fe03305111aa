using System.Text.Json;
using Tocsin.Configuration;

namespace Tocsin.Checks.Command;

/// <summary>
/// The <c>command</c> check kind: runs a program (a SlapOS promise, a Nagios plugin, any executable) in its own process
/// group and reads its result by the <see cref="CommandContract"/>. Reads <see cref="CommandCheckOptions"/>; runs with
/// <see cref="CommandRunner"/>.
/// </summary>
public sealed class CommandCheckKind : ICheckKind
{
    /// <summary>The kind's name in configuration.</summary>
    public const string KindName = "command";

    /// <summary>The timeout of a command check that sets none (and no <c>defaults.timeout</c>): 60 s, as in the issue
    /// that introduced the kind; promises and plugins are slower than a probe.</summary>
    public static readonly TimeSpan DefaultCommandTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Creates the kind with a runner using <paramref name="options"/> (defaults when null).</summary>
    public CommandCheckKind(TimeProvider time, CommandRunnerOptions? options = null) =>
        Runner = new CommandRunner(time, options ?? new CommandRunnerOptions());

    /// <inheritdoc />
    public string Name => KindName;

    /// <inheritdoc />
    public ICheckRunner Runner { get; }

    /// <inheritdoc />
    public TimeSpan? DefaultTimeout => DefaultCommandTimeout;

    /// <inheritdoc />
    public string Describe(object options) => options is CommandCheckOptions o
        ? o.Shell ? $"sh -c {o.Command[0]}" : string.Join(' ', o.Command.Select(QuoteArgument))
        : "";

    /// <inheritdoc />
    public object ReadOptions(ConfigObjectReader reader)
    {
        var r = reader;
        bool shell = r.Bool("shell") ?? false;
        string baseDir = Path.GetDirectoryName(r.File) is { Length: > 0 } d ? d : ".";
        IReadOnlyList<string>? command = ReadCommand(r, shell, baseDir);
        string? workingDirectory = r.String("workingDirectory");
        if (workingDirectory is not null)
        {
            if (workingDirectory.Length == 0 || workingDirectory.Contains('\0', StringComparison.Ordinal))
            {
                r.Error("workingDirectory", ConfigObjectReader.Quote(workingDirectory), "must be a folder path (absolute, or relative to the configuration file's folder)");
                workingDirectory = null;
            }
            else
            {
                workingDirectory = Path.GetFullPath(workingDirectory, Path.GetFullPath(baseDir));
            }
        }

        var env = ReadEnv(r);
        return new CommandCheckOptions(command ?? ["/bin/false"], shell, workingDirectory, env ?? new Dictionary<string, string>(StringComparer.Ordinal));
    }

    private static List<string>? ReadCommand(ConfigObjectReader r, bool shell, string baseDir)
    {
        var raw = r.Raw("command");
        const string arrayShape = "must be an array of strings [\"program\", \"argument\", …] run without a shell (for a shell command line, set \"shell\": true and give one string)";
        if (raw is null)
        {
            r.Error("command", null, shell ? "is required (a command line for /bin/sh -c)" : "is required: " + arrayShape[8..]);
            return null;
        }

        var v = raw.Value;
        if (shell)
        {
            if (v.ValueKind != JsonValueKind.String)
            {
                r.Error("command", Short(v), "must be one string when \"shell\" is true (the command line given to /bin/sh -c)");
                return null;
            }

            string line = v.GetString()!;
            if (line.Trim().Length == 0 || line.Contains('\0', StringComparison.Ordinal))
            {
                r.Error("command", ConfigObjectReader.Quote(line), "must be a non-empty command line without NUL characters");
                return null;
            }

            return [line];
        }

        if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
        {
            r.Error("command", Short(v), arrayShape);
            return null;
        }

        var argv = v.EnumerateArray().Select(e => e.GetString()!).ToList();
        if (argv.Count == 0 || argv[0].Trim().Length == 0)
        {
            r.Error("command", Short(v), "must name a program first: [\"program\", \"argument\", …]");
            return null;
        }

        if (argv.Any(a => a.Contains('\0', StringComparison.Ordinal)))
        {
            r.Error("command", Short(v), "arguments must not contain NUL characters");
            return null;
        }

        if (argv[0].StartsWith('-'))
        {
            r.Error("command", Short(v), "the program must not start with '-'; give a path or a name");
            return null;
        }

        if (argv[0].Contains('/', StringComparison.Ordinal) && !Path.IsPathRooted(argv[0]))
        {
            argv[0] = Path.GetFullPath(argv[0], Path.GetFullPath(baseDir));
        }

        return argv;
    }

    private static Dictionary<string, string>? ReadEnv(ConfigObjectReader r)
    {
        var raw = r.Raw("env");
        if (raw is null)
        {
            return null;
        }

        if (raw.Value.ValueKind != JsonValueKind.Object)
        {
            r.Error("env", null, "must be an object of environment variables whose values are strings, e.g. {\"LC_ALL\": \"C\"}");
            return null;
        }

        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in raw.Value.EnumerateObject())
        {
            if (p.Name.Length == 0 || p.Name.Contains('=', StringComparison.Ordinal) || p.Name.Contains('\0', StringComparison.Ordinal))
            {
                r.Error("env", ConfigObjectReader.Quote(p.Name), "variable names must be non-empty, without '=' or NUL characters");
                continue;
            }

            if (p.Value.ValueKind != JsonValueKind.String)
            {
                // The value is not echoed: environment variables often carry secrets.
                r.Error("env." + p.Name, null, "must be a string");
                continue;
            }

            string value = p.Value.GetString()!;
            if (value.Contains('\0', StringComparison.Ordinal))
            {
                r.Error("env." + p.Name, null, "must not contain NUL characters");
                continue;
            }

            env[p.Name] = value;
        }

        return env;
    }

    private static string Short(JsonElement e)
    {
        string text = e.GetRawText();
        return text.Length <= 120 ? text : text[..117] + "...";
    }

    private static string QuoteArgument(string a) =>
        a.Length > 0 && a.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '-' or '_' or '=' or ':' or ',' or '%' or '+' or '@')
            ? a
            : "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
