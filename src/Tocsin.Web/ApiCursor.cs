using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Web;

/// <summary>
/// The opaque page cursors of the API: base64url of a short text naming the list and the last item of the previous
/// page (<c>r:&lt;start ticks&gt;:&lt;id&gt;</c> for results, <c>i:&lt;id&gt;</c> for incidents, <c>s:&lt;id&gt;</c> for
/// state changes, <c>n:&lt;seq&gt;</c> for notifications). Clients pass them back unchanged; anything else is refused.
/// </summary>
internal static class ApiCursor
{
    public const string IncidentPrefix = "i";

    public const string StateChangePrefix = "s";

    private const string ResultPrefix = "r";

    public static string EncodeResult(ResultPosition position) =>
        Encode(string.Create(CultureInfo.InvariantCulture, $"{ResultPrefix}:{position.StartedAt.UtcTicks}:{position.Id:D}"));

    public static ResultPosition? DecodeResult(string cursor)
    {
        string[]? parts = Decode(cursor)?.Split(':');
        if (parts is not [ResultPrefix, var ticks, var id]
            || !long.TryParse(ticks, NumberStyles.None, CultureInfo.InvariantCulture, out long t)
            || t < DateTimeOffset.MinValue.UtcTicks || t > DateTimeOffset.MaxValue.UtcTicks
            || !Guid.TryParseExact(id, "D", out var guid))
        {
            return null;
        }

        return new ResultPosition(new DateTimeOffset(t, TimeSpan.Zero), guid);
    }

    public const string NotificationPrefix = "n";

    public static string EncodeSeq(string prefix, long seq) => Encode(string.Create(CultureInfo.InvariantCulture, $"{prefix}:{seq}"));

    public static long? DecodeSeq(string prefix, string cursor)
    {
        string? text = Decode(cursor);
        return text is not null && text.StartsWith(prefix + ":", StringComparison.Ordinal)
            && long.TryParse(text.AsSpan(prefix.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long seq) && seq > 0 ? seq : null;
    }

    public static string EncodeId(string prefix, Guid id) => Encode($"{prefix}:{id:D}");

    public static Guid? DecodeId(string prefix, string cursor)
    {
        string? text = Decode(cursor);
        return text is not null && text.Length == prefix.Length + 37 && text.StartsWith(prefix + ":", StringComparison.Ordinal)
            && Guid.TryParseExact(text.AsSpan(prefix.Length + 1), "D", out var id) ? id : null;
    }

    private static string Encode(string text) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));

    private static string? Decode(string cursor)
    {
        if (cursor.Length is 0 or > 200)
        {
            return null;
        }

        try
        {
            return Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor));
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
