using System.Text.RegularExpressions;

namespace Tocsin.Discovery;

/// <summary>
/// Syntax checks of Kubernetes names and label selectors, as the API server applies them (apimachinery's
/// <c>validation.IsDNS1123Label</c>, <c>IsQualifiedName</c>, <c>IsValidLabelValue</c> and <c>labels.Parse</c>), so that a
/// configuration error is reported when the file loads rather than as an HTTP 400 on every run.
/// </summary>
public static partial class KubernetesNames
{
    /// <summary>What a namespace may be, for messages.</summary>
    public const string NamespaceRule = "a DNS-1123 label: 1 to 63 lowercase letters, digits and '-', starting and ending with a letter or digit";

    /// <summary>What a label selector may be, for messages.</summary>
    public const string SelectorRule =
        "comma-separated requirements (all must hold): key=value, key==value, key!=value, key in (v1,v2), key notin (v1,v2), " +
        "key (exists), !key (does not exist); a key is [prefix/]name (name: up to 63 of A-Z a-z 0-9 - _ ., starting and ending " +
        "with a letter or digit; prefix: a DNS subdomain), a value is up to 63 such characters or empty";

    /// <summary>Whether <paramref name="name"/> is a DNS-1123 label (namespaces, container port names use it).</summary>
    public static bool IsDns1123Label(string name) => name.Length is >= 1 and <= 63 && Dns1123Label().IsMatch(name);

    /// <summary>Whether <paramref name="prefix"/> can begin a pod name: up to 253 lowercase letters, digits, '-' and '.',
    /// starting with a letter or digit (a pod name is a DNS-1123 subdomain). The empty prefix matches every pod.</summary>
    public static bool IsPodNamePrefix(string prefix) => prefix.Length == 0 || (prefix.Length <= 253 && PodNamePrefix().IsMatch(prefix));

    /// <summary>Whether <paramref name="name"/> is a container port name (an IANA_SVC_NAME: 1 to 15 lowercase letters, digits
    /// and '-', at least one letter, no '--', not starting or ending with '-').</summary>
    public static bool IsPortName(string name) =>
        name.Length is >= 1 and <= 15 && PortName().IsMatch(name) && name.Any(char.IsAsciiLetter) && !name.Contains("--", StringComparison.Ordinal);

    /// <summary>
    /// Checks the syntax of a label selector (see <see cref="SelectorRule"/>); <see langword="null"/> when it is valid, else
    /// what is wrong with which requirement. The empty selector is refused (it would select every pod).
    /// </summary>
    public static string? ValidateSelector(string selector)
    {
        ArgumentNullException.ThrowIfNull(selector);
        if (selector.Trim().Length == 0)
        {
            return "is empty";
        }

        var requirements = SplitRequirements(selector);
        if (requirements is null)
        {
            return "has unbalanced parentheses";
        }

        foreach (string requirement in requirements)
        {
            if (ValidateRequirement(requirement.Trim()) is { } problem)
            {
                return $"requirement {ConfigurationQuote(requirement.Trim())} {problem}";
            }
        }

        return null;
    }

    /// <summary>Splits a selector on the commas that are not inside parentheses; null when the parentheses do not balance.</summary>
    internal static List<string>? SplitRequirements(string selector)
    {
        var parts = new List<string>();
        int depth = 0, start = 0;
        for (int i = 0; i < selector.Length; i++)
        {
            switch (selector[i])
            {
                case '(':
                    if (++depth > 1)
                    {
                        return null;
                    }

                    break;
                case ')':
                    if (--depth < 0)
                    {
                        return null;
                    }

                    break;
                case ',' when depth == 0:
                    parts.Add(selector[start..i]);
                    start = i + 1;
                    break;
            }
        }

        if (depth != 0)
        {
            return null;
        }

        parts.Add(selector[start..]);
        return parts;
    }

    private static string? ValidateRequirement(string requirement)
    {
        if (requirement.Length == 0)
        {
            return "is empty (two commas in a row, or a comma at an end)";
        }

        if (Existence().Match(requirement) is { Success: true } e)
        {
            return ValidateKey(e.Groups["key"].Value);
        }

        if (Equality().Match(requirement) is { Success: true } q)
        {
            return ValidateKey(q.Groups["key"].Value) ?? ValidateValue(q.Groups["value"].Value);
        }

        if (Set().Match(requirement) is { Success: true } s)
        {
            if (s.Groups["values"].Value.Trim().Length == 0)
            {
                return "has an empty set of values; in and notin need at least one";
            }

            return ValidateKey(s.Groups["key"].Value)
                ?? s.Groups["values"].Value.Split(',').Select(v => ValidateValue(v.Trim())).FirstOrDefault(p => p is not null);
        }

        return "is not one of key=value, key==value, key!=value, key in (v1,v2), key notin (v1,v2), key, !key";
    }

    private static string? ValidateKey(string key)
    {
        int slash = key.IndexOf('/', StringComparison.Ordinal);
        string name = slash < 0 ? key : key[(slash + 1)..];
        if (slash >= 0)
        {
            string prefix = key[..slash];
            if (prefix.Length is 0 or > 253 || !DnsSubdomain().IsMatch(prefix))
            {
                return $"has a key prefix {ConfigurationQuote(prefix)} that is not a DNS subdomain (lowercase letters, digits, '-' and '.', at most 253)";
            }
        }

        return name.Length is >= 1 and <= 63 && QualifiedName().IsMatch(name)
            ? null
            : $"has a key {ConfigurationQuote(key)} whose name is not 1 to 63 of A-Z a-z 0-9 - _ . starting and ending with a letter or digit";
    }

    private static string? ValidateValue(string value) =>
        value.Length == 0 || (value.Length <= 63 && QualifiedName().IsMatch(value))
            ? null
            : $"has a value {ConfigurationQuote(value)} that is not up to 63 of A-Z a-z 0-9 - _ . starting and ending with a letter or digit";

    private static string ConfigurationQuote(string s) => Configuration.ConfigObjectReader.Quote(s);

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex Dns1123Label();

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", RegexOptions.CultureInvariant)]
    private static partial Regex DnsSubdomain();

    [GeneratedRegex("^[a-z0-9][-a-z0-9.]*$", RegexOptions.CultureInvariant)]
    private static partial Regex PodNamePrefix();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex PortName();

    [GeneratedRegex("^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex QualifiedName();

    [GeneratedRegex(@"^!?\s*(?<key>[^\s!=(),<>]+)$", RegexOptions.CultureInvariant)]
    private static partial Regex Existence();

    [GeneratedRegex(@"^(?<key>[^\s!=(),<>]+)\s*(==|=|!=)\s*(?<value>[^\s!=(),<>]*)$", RegexOptions.CultureInvariant)]
    private static partial Regex Equality();

    [GeneratedRegex(@"^(?<key>[^\s!=(),<>]+)\s+(in|notin)\s*\((?<values>[^()]*)\)$", RegexOptions.CultureInvariant)]
    private static partial Regex Set();
}
