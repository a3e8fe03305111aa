using System.Text.RegularExpressions;

namespace Tocsin.KubernetesEmulator;

/// <summary>
/// The API server's selectors, evaluated as apimachinery does: a label selector is comma-separated requirements, all of which
/// must hold — <c>key=value</c>, <c>key==value</c>, <c>key!=value</c> (also true when the key is absent), <c>key in (a,b)</c>,
/// <c>key notin (a,b)</c> (also true when absent), <c>key</c> (exists), <c>!key</c> (does not exist). A field selector is
/// <c>field=value</c>, <c>field==value</c>, <c>field!=value</c> requirements on the fields a pod supports.
/// </summary>
public static partial class Selectors
{
    /// <summary>Parses a label selector into a predicate over labels; an empty or absent selector selects everything.</summary>
    /// <exception cref="FormatException">With the API server's wording (<c>unable to parse requirement: …</c>) when it is not valid.</exception>
    public static Func<IReadOnlyDictionary<string, string>, bool> ParseLabelSelector(string? selector)
    {
        if (string.IsNullOrWhiteSpace(selector))
        {
            return static _ => true;
        }

        var requirements = new List<Func<IReadOnlyDictionary<string, string>, bool>>();
        foreach (string raw in Split(selector))
        {
            string r = raw.Trim();
            if (Existence().Match(r) is { Success: true } e)
            {
                string key = Key(e.Groups["key"].Value);
                bool negated = e.Groups["not"].Success;
                requirements.Add(labels => labels.ContainsKey(key) != negated);
            }
            else if (Equality().Match(r) is { Success: true } q)
            {
                string key = Key(q.Groups["key"].Value), value = Value(q.Groups["value"].Value);
                bool equal = q.Groups["op"].Value != "!=";
                requirements.Add(labels => labels.TryGetValue(key, out var v) ? (v == value) == equal : !equal);
            }
            else if (Set().Match(r) is { Success: true } s)
            {
                string key = Key(s.Groups["key"].Value);
                var values = s.Groups["values"].Value.Split(',').Select(v => Value(v.Trim())).ToHashSet(StringComparer.Ordinal);
                if (s.Groups["values"].Value.Trim().Length == 0)
                {
                    throw new FormatException("unable to parse requirement: for 'in', 'notin' operators, values set can't be empty");
                }

                bool @in = s.Groups["op"].Value == "in";
                requirements.Add(labels => labels.TryGetValue(key, out var v) ? values.Contains(v) == @in : !@in);
            }
            else
            {
                throw new FormatException($"unable to parse requirement: found '{r}', expected: in, notin, =, ==, !=, gt, lt");
            }
        }

        return labels => requirements.All(r => r(labels));
    }

    /// <summary>Parses a pod field selector into a predicate.</summary>
    /// <exception cref="FormatException">When it is not valid, or names a field pods do not support (<c>field label not supported: …</c>).</exception>
    public static Func<KubernetesPod, bool> ParsePodFieldSelector(string? selector)
    {
        if (string.IsNullOrWhiteSpace(selector))
        {
            return static _ => true;
        }

        var requirements = new List<Func<KubernetesPod, bool>>();
        foreach (string raw in selector.Split(','))
        {
            if (FieldRequirement().Match(raw.Trim()) is not { Success: true } m)
            {
                throw new FormatException($"invalid selector: '{selector}'; can't understand '{raw.Trim()}'");
            }

            string field = m.Groups["field"].Value, value = m.Groups["value"].Value;
            if (new KubernetesPod { Name = "" }.FieldValue(field) is null)
            {
                throw new FormatException($"field label not supported: {field}");
            }

            bool equal = m.Groups["op"].Value != "!=";
            requirements.Add(pod => (pod.FieldValue(field) == value) == equal);
        }

        return pod => requirements.All(r => r(pod));
    }

    private static List<string> Split(string selector)
    {
        var parts = new List<string>();
        int depth = 0, start = 0;
        for (int i = 0; i < selector.Length; i++)
        {
            char c = selector[i];
            depth += c == '(' ? 1 : c == ')' ? -1 : 0;
            if (depth is < 0 or > 1)
            {
                throw new FormatException($"unable to parse requirement: unexpected '{c}' at position {i}");
            }

            if (c == ',' && depth == 0)
            {
                parts.Add(selector[start..i]);
                start = i + 1;
            }
        }

        if (depth != 0)
        {
            throw new FormatException("unable to parse requirement: found '', expected: ')'");
        }

        parts.Add(selector[start..]);
        return parts;
    }

    private static string Key(string key)
    {
        string name = key[(key.IndexOf('/', StringComparison.Ordinal) + 1)..];
        if (name.Length is 0 or > 63 || !Name().IsMatch(name))
        {
            throw new FormatException($"unable to parse requirement: invalid label key \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
        }

        return key;
    }

    private static string Value(string value) =>
        value.Length == 0 || (value.Length <= 63 && Name().IsMatch(value))
            ? value
            : throw new FormatException($"unable to parse requirement: invalid label value: \"{value}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");

    [GeneratedRegex("^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex Name();

    [GeneratedRegex(@"^(?<not>!)?\s*(?<key>[^\s!=(),]+)$", RegexOptions.CultureInvariant)]
    private static partial Regex Existence();

    [GeneratedRegex(@"^(?<key>[^\s!=(),]+)\s*(?<op>==|=|!=)\s*(?<value>[^\s!=(),]*)$", RegexOptions.CultureInvariant)]
    private static partial Regex Equality();

    [GeneratedRegex(@"^(?<key>[^\s!=(),]+)\s+(?<op>in|notin)\s*\((?<values>[^()]*)\)$", RegexOptions.CultureInvariant)]
    private static partial Regex Set();

    [GeneratedRegex(@"^(?<field>[A-Za-z.]+)\s*(?<op>==|=|!=)\s*(?<value>[^,]*)$", RegexOptions.CultureInvariant)]
    private static partial Regex FieldRequirement();
}
