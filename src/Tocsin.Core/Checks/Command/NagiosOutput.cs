using System.Text.RegularExpressions;

namespace Tocsin.Checks.Command;

/// <summary>
/// The stdout of a Nagios plugin, split as the Nagios plugin development guidelines lay it out:
/// <code>
/// TEXT OUTPUT | OPTIONAL PERFDATA
/// LONG TEXT LINE 1
/// LONG TEXT LINE 2 | PERFDATA LINE 2
/// PERFDATA LINE 3
/// </code>
/// The first line is the text (the result's message) and optionally performance data after a <c>|</c>; the next lines
/// are long text until a line holding a <c>|</c>: what follows that <c>|</c>, and every later line, is performance data.
/// </summary>
/// <param name="Text">The first line's text, trimmed (empty when stdout is empty).</param>
/// <param name="LongOutput">The long text lines, joined with <c>\n</c>, or <see langword="null"/> when none.</param>
/// <param name="PerfdataText">Every performance data part, joined with spaces, or <see langword="null"/> when none.</param>
public sealed partial record NagiosOutput(string Text, string? LongOutput, string? PerfdataText)
{
    /// <summary>Splits plugin stdout (<c>\n</c> or <c>\r\n</c> line ends) into text, long text and performance data.</summary>
    public static NagiosOutput Parse(string stdout)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        string[] lines = stdout.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd('\n').Split('\n');
        var perf = new List<string>();
        string first = lines[0];
        int bar = first.IndexOf('|', StringComparison.Ordinal);
        string text = (bar < 0 ? first : first[..bar]).Trim();
        if (bar >= 0)
        {
            perf.Add(first[(bar + 1)..]);
        }

        var longText = new List<string>();
        bool inPerfdata = false;
        for (int i = 1; i < lines.Length; i++)
        {
            string line = lines[i];
            if (inPerfdata)
            {
                perf.Add(line);
                continue;
            }

            int b = line.IndexOf('|', StringComparison.Ordinal);
            if (b < 0)
            {
                longText.Add(line.TrimEnd());
                continue;
            }

            if (line[..b].Trim().Length > 0)
            {
                longText.Add(line[..b].TrimEnd());
            }

            perf.Add(line[(b + 1)..]);
            inPerfdata = true;
        }

        string? perfText = perf.Count == 0 ? null : string.Join(' ', perf.Select(p => p.Trim()).Where(p => p.Length > 0));
        string? longOutput = longText.Count == 0 ? null : string.Join('\n', longText).Trim('\n');
        return new NagiosOutput(text, string.IsNullOrEmpty(longOutput) ? null : longOutput, string.IsNullOrEmpty(perfText) ? null : perfText);
    }

    /// <summary>
    /// Whether this looks like Nagios plugin output: the first line starts with a status word as the guidelines'
    /// <c>SERVICE STATUS: text</c> shape has it (<c>OK</c>, <c>WARNING</c>, <c>CRITICAL</c> or <c>UNKNOWN</c>, upper case,
    /// after at most three upper-case words such as <c>DISK</c>), or there is at least one performance data item that parses.
    /// </summary>
    public bool IsPluginOutput() =>
        StatusLine().IsMatch(Text) || (PerfdataText is { } p && Perfdata.Parse(p).Items.Count > 0);

    [GeneratedRegex(@"^(?:[A-Z0-9_./-]+ ){0,3}(?:OK|WARNING|CRITICAL|UNKNOWN)(?:$|[\s:.,;-])", RegexOptions.CultureInvariant)]
    private static partial Regex StatusLine();
}
