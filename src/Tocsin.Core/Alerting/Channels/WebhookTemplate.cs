using System.Text;
using System.Text.RegularExpressions;

namespace Tocsin.Alerting.Channels;

/// <summary>
/// A webhook body template: text whose <c>{{field}}</c> placeholders (the names of <see cref="WebhookPayload.FieldNames"/>,
/// spaces inside the braces allowed) are replaced by the field's value JSON-escaped without quotes, so that
/// <c>{"text": "{{title}}"}</c> stays valid JSON whatever the title holds. A null value (<c>since</c>, <c>link</c>…) becomes
/// empty; <c>sequence</c> becomes its digits. Everything else is copied as written.
/// </summary>
public sealed partial class WebhookTemplate
{
    private readonly List<(string Text, string? Field)> _parts;

    private WebhookTemplate(List<(string, string?)> parts) => _parts = parts;

    [GeneratedRegex(@"\{\{\s*([^{}\s]*)\s*\}\}", RegexOptions.CultureInvariant)]
    private static partial Regex Placeholder();

    /// <summary>
    /// Parses a template; returns null and the unknown placeholders (as written, e.g. <c>{{nmae}}</c>) when one names no field.
    /// </summary>
    public static WebhookTemplate? TryParse(string template, out IReadOnlyList<string> unknown)
    {
        ArgumentNullException.ThrowIfNull(template);
        var parts = new List<(string, string?)>();
        var bad = new List<string>();
        int at = 0;
        foreach (Match m in Placeholder().Matches(template))
        {
            parts.Add((template[at..m.Index], null));
            string name = m.Groups[1].Value;
            if (!WebhookPayload.FieldNames.Contains(name, StringComparer.Ordinal))
            {
                bad.Add(m.Value);
            }

            parts.Add(("", name));
            at = m.Index + m.Length;
        }

        parts.Add((template[at..], null));
        unknown = bad;
        return bad.Count == 0 ? new WebhookTemplate(parts) : null;
    }

    /// <summary>The template with every placeholder replaced by <paramref name="notification"/>'s field.</summary>
    public string Render(Notification notification)
    {
        var fields = WebhookPayload.Fields(notification).ToDictionary(f => f.Key, f => f.Value, StringComparer.Ordinal);
        var sb = new StringBuilder();
        foreach (var (text, field) in _parts)
        {
            sb.Append(field is null ? text : WebhookPayload.TemplateValue(fields[field]));
        }

        return sb.ToString();
    }
}
