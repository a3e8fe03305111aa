using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Tocsin.Alerting.Channels;

/// <summary>
/// The webhook channel's JSON body: a stable contract (fields are only ever added, never renamed or removed). One object,
/// camelCase, fields in this order:
/// <code>
/// {
///   "id": "0192f0c4-…",              // string, UUIDv7 of this notification
///   "idempotencyKey": "…:problem:ops", // string, the same on every retry; also the Idempotency-Key header
///   "type": "problem",                // problem | recovery | reminder | escalation | flapping-start | flapping-stop | acknowledged | test
///   "channel": "ops",                 // string, the channel's name
///   "check": "site-home",             // string, "" for test
///   "kind": "http",                   // string, the check's kind, "" when unknown
///   "state": "CRITICAL",              // OK | WARNING | CRITICAL | UNKNOWN (hard state now)
///   "previousState": "OK",            // the hard state notified before
///   "at": "2026-03-01T10:15:00.000Z", // string, ISO 8601 UTC, when the event happened
///   "since": "2026-03-01T10:03:00.000Z", // string or null, when the current problem started
///   "message": "HTTP 503 …",          // string, the result's message
///   "incidentId": "…",                // string (UUID) or null
///   "sequence": 0,                    // number: reminder number or escalation step, else 0
///   "link": "https://tocsin…/checks/site-home", // string or null (set when web.publicUrl is)
///   "acknowledgedBy": null,           // string or null
///   "comment": null,                  // string or null
///   "title": "CRITICAL: site-home (problem)", // string, see NotificationText.Title
///   "text": "HTTP 503 …\nCheck: …"    // string, plain text body, see NotificationText.Body
/// }
/// </code>
/// </summary>
public static class WebhookPayload
{
    /// <summary>The payload's field names, in order; also the placeholders a template may use.</summary>
    public static readonly IReadOnlyList<string> FieldNames =
    [
        "id", "idempotencyKey", "type", "channel", "check", "kind", "state", "previousState", "at", "since", "message", "incidentId",
        "sequence", "link", "acknowledgedBy", "comment", "title", "text",
    ];

    /// <summary>The payload serialized as compact UTF-8 JSON.</summary>
    public static byte[] Serialize(Notification notification)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            foreach (var (name, value) in Fields(notification))
            {
                switch (value)
                {
                    case null:
                        json.WriteNull(name);
                        break;
                    case int number:
                        json.WriteNumber(name, number);
                        break;
                    default:
                        json.WriteString(name, (string)value);
                        break;
                }
            }

            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>
    /// The payload's fields in order, each a string, an <see cref="int"/> (<c>sequence</c>) or null.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, object?>> Fields(Notification notification)
    {
        ArgumentNullException.ThrowIfNull(notification);
        var n = notification;
        return
        [
            new("id", n.Id.ToString("D")),
            new("idempotencyKey", n.IdempotencyKey),
            new("type", n.Type.Name()),
            new("channel", n.Channel),
            new("check", n.CheckName),
            new("kind", n.CheckKind),
            new("state", NotificationText.StateName(n.State)),
            new("previousState", NotificationText.StateName(n.PreviousState)),
            new("at", Instant(n.At)),
            new("since", n.Since is { } since ? Instant(since) : null),
            new("message", n.Message),
            new("incidentId", n.IncidentId?.ToString("D")),
            new("sequence", n.Sequence),
            new("link", n.Link),
            new("acknowledgedBy", n.AcknowledgedBy),
            new("comment", n.Comment),
            new("title", NotificationText.Title(n)),
            new("text", NotificationText.Body(n)),
        ];
    }

    /// <summary>An instant as the payload writes it: ISO 8601 UTC with milliseconds, e.g. <c>2026-03-01T10:15:00.000Z</c>.</summary>
    public static string Instant(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>A field's value as a template inserts it: JSON-escaped without quotes; null as empty; numbers as digits.</summary>
    internal static string TemplateValue(object? value) => value switch
    {
        null => "",
        int number => number.ToString(CultureInfo.InvariantCulture),
        string s => JsonEscape(s),
        _ => JsonEscape(Convert.ToString(value, CultureInfo.InvariantCulture) ?? ""),
    };

    private static string JsonEscape(string s)
    {
        string quoted = JsonSerializer.Serialize(s, EscapeOptions);
        return quoted[1..^1];
    }

    private static readonly JsonSerializerOptions EscapeOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>UTF-8 without BOM.</summary>
    internal static readonly Encoding Utf8 = new UTF8Encoding(false);
}
