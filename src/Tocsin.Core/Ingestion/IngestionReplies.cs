using System.Buffers;
using System.Text.Json;

namespace Tocsin.Ingestion;

/// <summary>
/// The reply frames of seed 002's WebSocket protocol, as UTF-8 JSON: every reply carries <c>success</c> and <c>action</c>,
/// and <c>comment</c> on failure or as a note. Rows are arrays, as the original sends them: logs
/// <c>[sender, message, level]</c>, notifications <c>[sender, message, level, time]</c> (time in epoch seconds, a number
/// with up to six decimals). Tocsin adds <c>"next": "&lt;cursor&gt;"</c> to a read answer when more rows match than its
/// limit (pass it back as <c>before</c> for the next page).
/// </summary>
public static class IngestionReplies
{
    /// <summary><c>{"success": true, "action": …[, "comment": …]}</c>.</summary>
    public static byte[] Success(string action, string? comment = null) => Write(w => Head(w, true, action, comment));

    /// <summary><c>{"success": false, "action": …, "comment": …}</c> (<paramref name="action"/> null when the frame named none).</summary>
    public static byte[] Failure(string? action, string comment) => Write(w => Head(w, false, action, comment));

    /// <summary>
    /// The answer to a read: <c>{"success": true, "action": "getLogs", "logs": [[sender, message, level], …]}</c> or
    /// <c>{"success": true, "action": "getNotifications", "notifications": [[sender, message, level, time], …]}</c>, rows in
    /// the order given (newest first), plus <c>"next"</c> when <paramref name="next"/> is set.
    /// </summary>
    public static byte[] Rows(RowKind kind, IReadOnlyList<StoredRow> rows, string? next) => Write(w =>
    {
        Head(w, true, IngestionActions.Read(kind), null);
        WriteRows(w, kind, rows);
        if (next is not null)
        {
            w.WriteString("next", next);
        }
    });

    /// <summary>The live push to user sockets: <c>{"success": true, "action": "uploadNotifications", "notifications": [[sender, message, level, time], …]}</c>.</summary>
    public static byte[] Push(IReadOnlyList<StoredRow> rows) => Write(w =>
    {
        Head(w, true, IngestionActions.UploadNotifications, null);
        WriteRows(w, RowKind.Notifications, rows);
    });

    /// <summary><c>{"success": true, "action": "getConfig", "config": {…}}</c>; <paramref name="json"/> is the stored document
    /// (written compact).</summary>
    /// <exception cref="JsonException">When <paramref name="json"/> is not JSON.</exception>
    public static byte[] Config(string json) => Write(w =>
    {
        Head(w, true, IngestionActions.GetConfig, null);
        w.WritePropertyName("config");
        using var document = JsonDocument.Parse(json);
        document.RootElement.WriteTo(w);
    });

    /// <summary>A row's time as epoch seconds with microsecond precision (<c>1700000000.12</c>), as seed 002 sends <c>time.time()</c>.</summary>
    public static decimal EpochSeconds(DateTimeOffset time) =>
        decimal.Round((time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10_000_000m, 6) / 1.000000000000000000000000000m;

    private static void Head(Utf8JsonWriter w, bool success, string? action, string? comment)
    {
        w.WriteBoolean("success", success);
        w.WriteString("action", action);
        if (comment is not null)
        {
            w.WriteString("comment", comment);
        }
    }

    private static void WriteRows(Utf8JsonWriter w, RowKind kind, IReadOnlyList<StoredRow> rows)
    {
        w.WriteStartArray(IngestionActions.Field(kind));
        foreach (var row in rows)
        {
            w.WriteStartArray();
            w.WriteStringValue(row.Sender);
            w.WriteStringValue(row.Message);
            w.WriteNumberValue(row.Level);
            if (kind == RowKind.Notifications)
            {
                w.WriteNumberValue(EpochSeconds(row.Time));
            }

            w.WriteEndArray();
        }

        w.WriteEndArray();
    }

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
