using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Tocsin.Checks;
using Tocsin.Configuration;

namespace Tocsin.Status;

/// <summary>
/// A check's definition as the dashboard shows it: <c>name: value</c> lines (common fields, then the kind's options by
/// their config names), with secrets hidden (<see cref="Secrets.Mask"/>): the password of a URL, the values of headers
/// that carry credentials (Authorization, Cookie, anything with token, key, secret or password in its name) and of
/// options so named.
/// </summary>
public static partial class DefinitionView
{
    /// <summary>Longest value shown; longer ones (a request body, say) are cut with an ellipsis.</summary>
    public const int MaxValueLength = 300;

    [GeneratedRegex("(?i)authorization|cookie|token|secret|password|passwd|api[-_]?key|x-auth|^pat$")]
    private static partial Regex Sensitive();

    /// <summary>The lines of <paramref name="check"/>'s definition, in a stable order.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Lines(CheckDefinition check)
    {
        ArgumentNullException.ThrowIfNull(check);
        var lines = new List<KeyValuePair<string, string>>
        {
            new("kind", check.Kind),
            check.Schedule is { } schedule ? new KeyValuePair<string, string>("schedule", schedule.ToString()) : new KeyValuePair<string, string>("interval", Format(check.Interval)),
            new("timeout", Format(check.Timeout)),
        };
        if (check.Tags.Count > 0)
        {
            lines.Add(new("tags", string.Join(", ", check.Tags)));
        }

        lines.Add(new("placement", check.Placement.ToString().ToLowerInvariant()));
        lines.Add(new("enabled", check.Enabled ? "true" : "false"));
        if (check.DisabledReason is { } reason)
        {
            lines.Add(new("problem", Cut(reason)));
        }

        if (check.Promise is { } promise)
        {
            lines.Add(new("promise", promise.Path));
            AddValue(lines, "promiseConfig", promise.ConfigPath);
            AddValue(lines, "title", promise.Title);
            if (promise.PublicPaths.Count > 0)
            {
                AddValue(lines, "publicPathList", promise.PublicPaths);
            }

            if (promise.PrivatePaths.Count > 0)
            {
                AddValue(lines, "privatePathList", promise.PrivatePaths);
            }
        }
        lines.Add(new("public", check.Public ? "true" : "false"));
        lines.Add(new("failureThreshold", check.Thresholds.FailureThreshold.ToString(CultureInfo.InvariantCulture)));
        lines.Add(new("successThreshold", check.Thresholds.SuccessThreshold.ToString(CultureInfo.InvariantCulture)));
        foreach (var property in check.Options.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).OrderBy(p => p.MetadataToken))
        {
            if (property.GetIndexParameters().Length > 0)
            {
                continue;
            }

            AddValue(lines, CamelCase(property.Name), property.GetValue(check.Options));
        }

        return lines;
    }

    private static void AddValue(List<KeyValuePair<string, string>> lines, string name, object? value)
    {
        switch (value)
        {
            case null:
                return;
            case IDictionary dictionary:
                foreach (DictionaryEntry entry in dictionary)
                {
                    string key = Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? "";
                    string text = Convert.ToString(entry.Value, CultureInfo.InvariantCulture) ?? "";
                    lines.Add(new($"{name}.{key}", Sensitive().IsMatch(key) || Sensitive().IsMatch(name) ? Secrets.Mask : Cut(text)));
                }

                return;
            case IEnumerable<KeyValuePair<string, string>> pairs:
                foreach (var (key, text) in pairs)
                {
                    lines.Add(new($"{name}.{key}", Sensitive().IsMatch(key) || Sensitive().IsMatch(name) ? Secrets.Mask : Cut(text)));
                }

                return;
            default:
                lines.Add(new(name, Sensitive().IsMatch(name) ? Secrets.Mask : Cut(Format(value))));
                return;
        }
    }

    private static string Format(object value) => value switch
    {
        string s => s,
        Uri u => RedactUri(u),
        Regex r => r.ToString(),
        TimeSpan t => Format(t),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        IEnumerable e => string.Join(", ", e.Cast<object?>().Select(x => x is null ? "null" : Format(x))),
        _ => value.ToString() ?? "",
    };

    /// <summary>A duration the way the config writes it: <c>500ms</c>, <c>30s</c>, <c>5m</c>, <c>2h</c>, <c>1d</c>, or <c>1m30s</c>.</summary>
    public static string Format(TimeSpan t)
    {
        if (t < TimeSpan.FromSeconds(1) || t.Milliseconds != 0)
        {
            return $"{t.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture)}ms";
        }

        if (t.Ticks % TimeSpan.TicksPerDay == 0)
        {
            return $"{(long)t.TotalDays}d";
        }

        if (t.Ticks % TimeSpan.TicksPerHour == 0)
        {
            return $"{(long)t.TotalHours}h";
        }

        if (t.Ticks % TimeSpan.TicksPerMinute == 0)
        {
            return $"{(long)t.TotalMinutes}m";
        }

        return t < TimeSpan.FromMinutes(1) ? $"{(long)t.TotalSeconds}s" : $"{(long)t.TotalMinutes}m{t.Seconds}s";
    }

    private static string RedactUri(Uri u)
    {
        if (!u.IsAbsoluteUri || string.IsNullOrEmpty(u.UserInfo))
        {
            return u.OriginalString;
        }

        var b = new UriBuilder(u) { Password = u.UserInfo.Contains(':', StringComparison.Ordinal) ? Secrets.Mask : "" };
        return b.Uri.AbsoluteUri;
    }

    private static string Cut(string s) => s.Length <= MaxValueLength ? s : string.Concat(s.AsSpan(0, MaxValueLength), "…");

    private static string CamelCase(string s) => s.Length == 0 ? s : string.Concat(s[..1].ToLowerInvariant(), s.AsSpan(1));
}
