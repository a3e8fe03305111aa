using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tocsin.Checks.Command;

/// <summary>
/// Turns what a command printed and how it exited into a state, a message and details. Pure: no process, no clock.
/// Rules, first match wins:
/// <list type="number">
/// <item>Exit code 129–192 (128 + signal, as shells and .NET report a child killed by a signal): <c>UNKNOWN</c>,
/// "killed by signal 9 (SIGKILL)".</item>
/// <item>stdout is a JSON object (SlapOS promise <c>status.json</c>): <c>status</c> <c>OK</c>, <c>WARNING</c>,
/// <c>CRITICAL</c>, <c>UNKNOWN</c> or <c>ERROR</c> (= <c>CRITICAL</c>), case-insensitive; absent means <c>OK</c>; any
/// other value is <c>UNKNOWN</c>. <c>message</c> is the message. A non-zero exit is never <c>OK</c>: an <c>OK</c> status
/// becomes <c>CRITICAL</c>, as the SlapOS executor writes <c>ERROR</c> then. The other fields go to details <c>fields</c>.</item>
/// <item>Nagios plugin output (see <see cref="NagiosOutput.IsPluginOutput"/>): exit 0/1/2/3 is
/// <c>OK</c>/<c>WARNING</c>/<c>CRITICAL</c>/<c>UNKNOWN</c>, any other code <c>CRITICAL</c>; the first line is the message;
/// long output goes to details <c>longOutput</c>, performance data to details <c>perfdata</c>
/// (array of <see cref="PerfdataItem.ToJson"/>) and items that did not parse to <c>perfdataInvalid</c> (array of strings).</item>
/// <item>Anything else: exit 0 is <c>OK</c>, any other <c>CRITICAL</c>; the message is stdout's first non-empty line,
/// else stderr's, else "exit code N".</item>
/// </list>
/// Details always hold <c>format</c> (<c>"status.json"</c>, <c>"nagios"</c>, <c>"plain"</c> or <c>"signal"</c>) and
/// <c>exitCode</c>; <c>stderr</c> (at most <see cref="MaxExcerptChars"/> characters) when stderr was not empty; for
/// <c>plain</c>, <c>stdout</c> likewise.
/// </summary>
public static class CommandContract
{
    /// <summary>Longest message kept, in characters; longer ones are cut with an ellipsis.</summary>
    public const int MaxMessageChars = 1000;

    /// <summary>Longest stdout, stderr or long output excerpt kept in details, in characters.</summary>
    public const int MaxExcerptChars = 4096;

    /// <summary>Evaluates one finished run.</summary>
    /// <param name="exitCode">The exit code; 128 + N when the process was killed by signal N.</param>
    /// <param name="stdout">What it printed on stdout (already capped and decoded).</param>
    /// <param name="stderr">What it printed on stderr (already capped and decoded).</param>
    public static RunOutcome Evaluate(int exitCode, string stdout, string stderr)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var details = new JsonObject { ["exitCode"] = exitCode };
        if (stderr.Length > 0)
        {
            details["stderr"] = Excerpt(stderr);
        }

        if (exitCode is > 128 and <= 128 + 64)
        {
            int signal = exitCode - 128;
            details["format"] = "signal";
            details["signal"] = signal;
            AddPlainOutput(details, stdout);
            return new RunOutcome(CheckState.UNKNOWN, $"killed by signal {signal} ({SignalName(signal)})", null, details);
        }

        if (TryStatusJson(stdout) is { } status)
        {
            details["format"] = "status.json";
            return FromStatusJson(status, exitCode, stderr, details);
        }

        var nagios = NagiosOutput.Parse(stdout);
        if (nagios.IsPluginOutput())
        {
            details["format"] = "nagios";
            return FromNagios(nagios, exitCode, details);
        }

        details["format"] = "plain";
        AddPlainOutput(details, stdout);
        string message = FirstLine(stdout) ?? FirstLine(stderr) ?? $"exit code {exitCode}";
        return new RunOutcome(exitCode == 0 ? CheckState.OK : CheckState.CRITICAL, Clean(message), null, details);
    }

    /// <summary>The state a SlapOS or Nagios status word names (<c>ERROR</c> is <c>CRITICAL</c>), case-insensitive, or <see langword="null"/>.</summary>
    public static CheckState? ParseStatusWord(string status) => status.Trim().ToUpperInvariant() switch
    {
        "OK" => CheckState.OK,
        "WARNING" => CheckState.WARNING,
        "CRITICAL" or "ERROR" => CheckState.CRITICAL,
        "UNKNOWN" => CheckState.UNKNOWN,
        _ => null,
    };

    /// <summary>The conventional name of a Linux signal number (<c>SIGTERM</c> for 15), or <c>signal N</c>.</summary>
    public static string SignalName(int signal) => signal switch
    {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => "signal " + signal.ToString(CultureInfo.InvariantCulture),
    };

    private static JsonObject? TryStatusJson(string stdout)
    {
        string trimmed = stdout.Trim();
        if (!trimmed.StartsWith('{'))
        {
            return null;
        }

        try
        {
            if (JsonNode.Parse(trimmed) is not JsonObject obj)
            {
                return null;
            }

            _ = obj.Count; // JsonObject reads its properties lazily: make duplicate names fail here, not later
            return obj;
        }
        catch (JsonException)
        {
            return null;
        }
        catch (ArgumentException)
        {
            return null; // duplicate property names
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static RunOutcome FromStatusJson(JsonObject json, int exitCode, string stderr, JsonObject details)
    {
        CheckState state = exitCode == 0 ? CheckState.OK : CheckState.CRITICAL;
        string? problem = null;
        if (json["status"] is { } s)
        {
            string raw = s.GetValueKind() == JsonValueKind.String ? s.GetValue<string>() : s.ToJsonString();
            if (ParseStatusWord(raw) is { } parsed)
            {
                state = parsed;
            }
            else
            {
                state = CheckState.UNKNOWN;
                problem = $"status {JsonSerializer.Serialize(raw)} is not one of OK, ERROR, WARNING, CRITICAL, UNKNOWN";
            }
        }

        string? message = json["message"] switch
        {
            null => null,
            var m when m.GetValueKind() == JsonValueKind.String => m.GetValue<string>(),
            var m => m.ToJsonString(),
        };
        if (state == CheckState.OK && exitCode != 0)
        {
            state = CheckState.CRITICAL;
            problem = $"exit code {exitCode}";
        }

        var fields = new JsonObject();
        foreach (var (key, value) in json)
        {
            if (key is not ("status" or "message"))
            {
                fields[key] = value?.DeepClone();
            }
        }

        if (fields.Count > 0)
        {
            details["fields"] = fields;
        }

        string? first = message is null ? null : FirstLine(message);
        if (message is not null && first is not null && message.Trim() != first)
        {
            details["longOutput"] = Excerpt(message.Trim());
        }

        first ??= exitCode != 0 ? FirstLine(stderr) : null;
        string text = (first, problem) switch
        {
            (null, null) => state.ToString(),
            (null, _) => problem!,
            (_, null) => first,
            _ => $"{first} ({problem})",
        };
        return new RunOutcome(state, Clean(text), null, details);
    }

    private static RunOutcome FromNagios(NagiosOutput output, int exitCode, JsonObject details)
    {
        var state = exitCode switch
        {
            0 => CheckState.OK,
            1 => CheckState.WARNING,
            3 => CheckState.UNKNOWN,
            _ => CheckState.CRITICAL,
        };
        if (output.LongOutput is { } longOutput)
        {
            details["longOutput"] = Excerpt(longOutput);
        }

        if (output.PerfdataText is { } perfText)
        {
            var perf = Perfdata.Parse(perfText);
            if (perf.Items.Count > 0)
            {
                details["perfdata"] = new JsonArray([.. perf.Items.Select(JsonNode (p) => p.ToJson())]);
            }

            if (perf.Invalid.Count > 0)
            {
                details["perfdataInvalid"] = new JsonArray([.. perf.Invalid.Take(20).Select(JsonNode (t) => JsonValue.Create(Excerpt(t, 200)))]);
            }
        }

        string message = output.Text.Length > 0 ? output.Text : $"exit code {exitCode}";
        return new RunOutcome(state, Clean(message), null, details);
    }

    private static void AddPlainOutput(JsonObject details, string stdout)
    {
        if (stdout.Length > 0)
        {
            details["stdout"] = Excerpt(stdout);
        }
    }

    private static string? FirstLine(string text)
    {
        foreach (var line in text.Split('\n'))
        {
            string t = line.Trim();
            if (t.Length > 0)
            {
                return t;
            }
        }

        return null;
    }

    /// <summary>One line: control characters become spaces; cut at <see cref="MaxMessageChars"/>.</summary>
    private static string Clean(string message)
    {
        var sb = new StringBuilder(Math.Min(message.Length, MaxMessageChars + 1));
        foreach (char c in Cut(message, MaxMessageChars))
        {
            sb.Append(char.IsControl(c) ? ' ' : c);
        }

        return sb.ToString().Trim();
    }

    /// <summary>The text, or its first <paramref name="max"/> characters and an ellipsis.</summary>
    internal static string Excerpt(string text, int max = MaxExcerptChars) => Cut(text, max);

    /// <summary>The first <paramref name="max"/> characters and an ellipsis, never splitting a surrogate pair.</summary>
    private static string Cut(string text, int max)
    {
        if (text.Length <= max)
        {
            return text;
        }

        int n = char.IsHighSurrogate(text[max - 1]) ? max - 1 : max;
        return text[..n] + "…";
    }
}
