using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tocsin.Alerting;

/// <summary>How alerting stores its records and notifications as JSON (camelCase, enums as names). Not a wire format:
/// channels render their own payloads.</summary>
public static class AlertJson
{
    /// <summary>The options used.</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Serializes a notification.</summary>
    public static string Write(Notification notification) => JsonSerializer.Serialize(notification, Options);

    /// <summary>Reads a notification.</summary>
    /// <exception cref="JsonException">When <paramref name="json"/> is not one.</exception>
    public static Notification ReadNotification(string json) =>
        JsonSerializer.Deserialize<Notification>(json, Options) ?? throw new JsonException("null notification");

    /// <summary>Serializes a record.</summary>
    public static string Write(AlertRecord record) => JsonSerializer.Serialize(record, Options);

    /// <summary>Reads a record.</summary>
    /// <exception cref="JsonException">When <paramref name="json"/> is not one.</exception>
    public static AlertRecord ReadRecord(string json) =>
        JsonSerializer.Deserialize<AlertRecord>(json, Options) ?? throw new JsonException("null alert record");
}
