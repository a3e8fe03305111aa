using System.Text.Json;

namespace Tocsin.Configuration;

/// <summary>
/// A strict reader of the INI files SlapOS writes beside its promises (<c>etc/monitor-promise/&lt;name&gt;.cfg</c>), following
/// what Python's <c>configparser</c> (which SlapOS' monitor uses) accepts:
/// <list type="bullet">
/// <item><c>[section]</c> headers; <c>key = value</c> or <c>key: value</c> lines; keys are lower-cased (configparser's
/// <c>optionxform</c>), values trimmed.</item>
/// <item>Whole-line comments starting with <c>#</c> or <c>;</c>, and blank lines. A <c>#</c> inside a value is kept
/// (configparser keeps inline comments too).</item>
/// <item>Continuation lines: an indented line after a key adds a line to its value (joined with <c>\n</c>).</item>
/// <item>A value written as a JSON string (<c>"…"</c>, as seed 003's <c>service.cfg</c> template writes it with
/// <c>dumps(value)</c>) is decoded; any other value is taken as written.</item>
/// </list>
/// Refused, with the line number: a key before any section, a line that is neither, a repeated section or key, an
/// empty key or section name, an unterminated or invalid JSON string. Microsoft.Extensions.Configuration.Ini was not used:
/// it strips quotes without decoding them, accepts no <c>key: value</c> nor continuation lines, and names no line in its errors.
/// </summary>
public sealed class IniDocument
{
    private readonly Dictionary<string, Dictionary<string, string>> _sections;

    private IniDocument(Dictionary<string, Dictionary<string, string>> sections, List<string> order)
    {
        _sections = sections;
        SectionNames = order;
    }

    /// <summary>The section names, in file order (as written; section names are case-sensitive, as in configparser).</summary>
    public IReadOnlyList<string> SectionNames { get; }

    /// <summary>The keys (lower-cased) and values of <paramref name="section"/>, or null when the file has no such section.</summary>
    public IReadOnlyDictionary<string, string>? Section(string section) => _sections.GetValueOrDefault(section);

    /// <summary>Parses INI <paramref name="text"/>.</summary>
    /// <exception cref="FormatException">When a line cannot be read; the message starts with <c>line N: </c>.</exception>
    public static IniDocument Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sections = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        var order = new List<string>();
        Dictionary<string, string>? current = null;
        string? lastKey = null;
        int lineNumber = 0;
        foreach (string raw in text.ReplaceLineEndings("\n").Split('\n'))
        {
            lineNumber++;
            string line = raw.TrimEnd();
            string trimmed = line.TrimStart();
            if (lineNumber == 1 && trimmed.StartsWith('\uFEFF'))
            {
                trimmed = trimmed[1..];
            }

            if (trimmed.Length == 0)
            {
                lastKey = null;
                continue;
            }

            if (trimmed[0] is '#' or ';')
            {
                continue;
            }

            if (char.IsWhiteSpace(line[0]) && lastKey is not null && current is not null)
            {
                // configparser: an indented line continues the previous value.
                current[lastKey] = current[lastKey].Length == 0 ? trimmed : current[lastKey] + "\n" + trimmed;
                continue;
            }

            if (trimmed[0] == '[')
            {
                if (!trimmed.EndsWith(']'))
                {
                    throw Error(lineNumber, $"section header {Show(trimmed)} has no closing ']'");
                }

                string name = trimmed[1..^1].Trim();
                if (name.Length == 0)
                {
                    throw Error(lineNumber, "empty section name []");
                }

                if (sections.ContainsKey(name))
                {
                    throw Error(lineNumber, $"section [{name}] appears twice");
                }

                current = new Dictionary<string, string>(StringComparer.Ordinal);
                sections[name] = current;
                order.Add(name);
                lastKey = null;
                continue;
            }

            int separator = trimmed.IndexOfAny(['=', ':']);
            if (separator < 0)
            {
                throw Error(lineNumber, $"{Show(trimmed)} is neither a [section], a key = value line nor a comment");
            }

            if (current is null)
            {
                throw Error(lineNumber, $"key {Show(trimmed[..separator].Trim())} comes before any [section] header");
            }

            string key = trimmed[..separator].Trim().ToLowerInvariant();
            if (key.Length == 0)
            {
                throw Error(lineNumber, $"{Show(trimmed)} has an empty key");
            }

            if (current.ContainsKey(key))
            {
                throw Error(lineNumber, $"key \"{key}\" appears twice in the section");
            }

            current[key] = trimmed[(separator + 1)..].Trim();
            lastKey = key;
        }

        foreach (var section in sections.Values)
        {
            foreach (var (key, value) in section.ToList())
            {
                if (value.Length >= 1 && value[0] == '"')
                {
                    section[key] = DecodeJsonString(value) ?? throw new FormatException($"key \"{key}\": {Show(value)} starts with '\"' but is not a valid JSON string");
                }
            }
        }

        return new IniDocument(sections, order);
    }

    private static string? DecodeJsonString(string value)
    {
        try
        {
            return JsonSerializer.Deserialize<string>(value);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static FormatException Error(int line, string message) => new($"line {line}: {message}");

    private static string Show(string s) => ConfigObjectReader.Quote(s.Length <= 80 ? s : s[..77] + "...");
}
