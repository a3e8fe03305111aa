using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Tocsin.Configuration;

namespace Tocsin.Ingestion;

/// <summary>
/// Reads seed 002's WebSocket frames: one UTF-8 JSON object per text frame, <c>{"action": …, …}</c>
/// (<see cref="IngestionActions"/>). Every field is checked against <see cref="IngestionOptions"/>; a frame is accepted
/// or refused whole, and a refusal's comment names the action, the row index, the field, the value (cut to about 120
/// characters) and what is allowed. Rows: <c>{"level": 20 | "info", "time": 1700000000.12, "sender": "dns", "message": "…"}</c>
/// (other fields are ignored, as the original did). Pure: time comes in as <c>now</c>. Never throws for any input.
/// </summary>
public static class IngestionProtocol
{
    /// <summary>Most rows a read answers at once (<c>limit</c>).</summary>
    public const int MaxLimit = 10_000;

    /// <summary>Rows a read answers when it gives no <c>limit</c>.</summary>
    public const int DefaultLimit = 1000;

    /// <summary>Errors listed in one comment; more are counted.</summary>
    public const int MaxErrorsListed = 5;

    /// <summary>The levels with a name, as Python's logging numbers them, lowest first: their names as shown.</summary>
    public static readonly IReadOnlyList<(string Name, int Value)> NamedLevels = [("debug", 10), ("info", 20), ("warning", 30), ("error", 40), ("critical", 50)];

    /// <summary>Level names accepted in rows and filters (case-insensitive): <see cref="NamedLevels"/> and the aliases
    /// <c>warn</c> (30) and <c>fatal</c> (50).</summary>
    public static readonly IReadOnlyDictionary<string, int> LevelNames =
        NamedLevels.Append((Name: "warn", Value: 30)).Append((Name: "fatal", Value: 50)).ToDictionary(l => l.Name, l => l.Value, StringComparer.OrdinalIgnoreCase);

    /// <summary>A level's name when it has one in <see cref="NamedLevels"/> (<c>warning</c>), else its number.</summary>
    public static string LevelName(int level) =>
        NamedLevels.FirstOrDefault(l => l.Value == level).Name ?? level.ToString(CultureInfo.InvariantCulture);

    private const string LevelAllowed = "must be an integer 0–100 or a level name (debug 10, info 20, warning/warn 30, error 40, critical/fatal 50)";

    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64 };

    /// <summary>
    /// Parses one text frame. Returns the request, or an <see cref="InvalidRequest"/> whose comment says what was wrong: not
    /// JSON or not UTF-8, not an object, no <c>action</c>, an unknown action (the known ones listed), a bad field.
    /// </summary>
    /// <param name="utf8">The frame's bytes.</param>
    /// <param name="options">The limits.</param>
    /// <param name="now">The server's time, for the accepted range of row times.</param>
    public static IngestionRequest Parse(ReadOnlySpan<byte> utf8, IngestionOptions options, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(options);
        JsonDocument document;
        try
        {
            document = ParseOne(utf8);
        }
        catch (JsonException ex)
        {
            return new InvalidRequest(null, $"The frame is not valid JSON ({ex.Message}); send one UTF-8 JSON object {{\"action\": …}} per text frame.");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new InvalidRequest(null, $"The frame is {Display(root)}; send a JSON object {{\"action\": …}}.");
            }

            if (!root.TryGetProperty("action", out var actionElement) || actionElement.ValueKind != JsonValueKind.String)
            {
                return new InvalidRequest(null, $"The frame has no \"action\" string; known actions: {string.Join(", ", IngestionActions.All)}.");
            }

            string action = actionElement.GetString()!;
            return action switch
            {
                IngestionActions.Auth => ParseAuth(root),
                IngestionActions.Ping => new PingRequest(),
                IngestionActions.UploadLogs => ParseUpload(RowKind.Logs, root, options, now),
                IngestionActions.UploadNotifications => ParseUpload(RowKind.Notifications, root, options, now),
                IngestionActions.GetLogs => ParseRead(RowKind.Logs, root),
                IngestionActions.GetNotifications => ParseRead(RowKind.Notifications, root),
                IngestionActions.GetConfig => new GetConfigRequest(),
                IngestionActions.InsertConfig => ParseInsertConfig(root),
                _ => new InvalidRequest(Cut(action), $"Unknown action {ConfigObjectReader.Quote(action)}; known actions: {string.Join(", ", IngestionActions.All)}."),
            };
        }
    }

    /// <summary>
    /// Reads the rows of an upload from <paramref name="list"/> (the frame's <c>logs</c> / <c>notifications</c>, or an HTTP
    /// body's array). Returns the rows, or null with <paramref name="comment"/> saying why the whole upload is refused: not a
    /// non-empty list (seed 002's exact <c>Please submit logs as list of length &gt;= 1</c>), more than
    /// <see cref="IngestionOptions.MaxRowsPerFrame"/> rows, or the first <see cref="MaxErrorsListed"/> bad fields.
    /// </summary>
    public static IReadOnlyList<IngestionRow>? ReadRows(RowKind kind, JsonElement list, IngestionOptions options, DateTimeOffset now, out string? comment)
    {
        ArgumentNullException.ThrowIfNull(options);
        string field = IngestionActions.Field(kind);
        if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
        {
            comment = $"Please submit {field} as list of length >= 1";
            return null;
        }

        int count = list.GetArrayLength();
        if (count > options.MaxRowsPerFrame)
        {
            comment = $"{IngestionActions.Upload(kind)}: {count} {field} in one upload; at most {options.MaxRowsPerFrame} (maxRowsPerFrame) are allowed, send them in several.";
            return null;
        }

        var rows = new IngestionRow[count];
        var errors = new RowErrors(kind);
        int index = 0;
        foreach (var element in list.EnumerateArray())
        {
            if (ReadRow(element, index, options, now, errors) is { } row)
            {
                rows[index] = row;
            }

            index++;
        }

        comment = errors.Comment();
        return comment is null ? rows : null;
    }

    /// <summary>
    /// Reads the rows of an HTTP upload body: a JSON array of rows (<paramref name="ndjson"/> false), or one JSON row object
    /// per line (NDJSON; blank lines skipped). Returns the rows, or null with <paramref name="comment"/> as
    /// <see cref="ReadRows(RowKind, JsonElement, IngestionOptions, DateTimeOffset, out string?)"/> (a line that is not JSON is
    /// named by its row index and line number).
    /// </summary>
    public static IReadOnlyList<IngestionRow>? ReadRows(RowKind kind, ReadOnlySpan<byte> body, bool ndjson, IngestionOptions options, DateTimeOffset now, out string? comment)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!ndjson)
        {
            try
            {
                using var document = ParseOne(body);
                return ReadRows(kind, document.RootElement, options, now, out comment);
            }
            catch (JsonException ex)
            {
                comment = $"{IngestionActions.Upload(kind)}: the body is not valid JSON ({ex.Message}); send a JSON array of rows, or NDJSON with Content-Type application/x-ndjson.";
                return null;
            }
        }

        var rows = new List<IngestionRow>();
        var errors = new RowErrors(kind);
        int line = 0;
        int index = 0;
        while (!body.IsEmpty)
        {
            int end = body.IndexOf((byte)'\n');
            var text = (end < 0 ? body : body[..end]).Trim(" \t\r"u8);
            body = end < 0 ? [] : body[(end + 1)..];
            line++;
            if (text.IsEmpty)
            {
                continue;
            }

            if (index == options.MaxRowsPerFrame)
            {
                comment = $"{IngestionActions.Upload(kind)}: more than {options.MaxRowsPerFrame} {IngestionActions.Field(kind)} in one upload; at most {options.MaxRowsPerFrame} (maxRowsPerFrame) are allowed, send them in several.";
                return null;
            }

            try
            {
                using var document = ParseOne(text);
                if (ReadRow(document.RootElement, index, options, now, errors) is { } row)
                {
                    rows.Add(row);
                }
            }
            catch (JsonException ex)
            {
                errors.Invalid(index, line, $"is not valid JSON ({ex.Message})");
            }

            index++;
        }

        comment = index == 0 ? $"Please submit {IngestionActions.Field(kind)} as list of length >= 1" : errors.Comment();
        return comment is null ? rows : null;
    }

    /// <summary>
    /// Reads one row (<paramref name="index"/> names it in errors) into <paramref name="errors"/>' list of problems; null
    /// when it has any.
    /// </summary>
    internal static IngestionRow? ReadRow(JsonElement element, int index, IngestionOptions options, DateTimeOffset now, RowErrors errors)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            errors.Add(index, null, element, "must be an object {\"level\", \"time\", \"sender\", \"message\"}");
            return null;
        }

        int before = errors.Count;
        int level = 0;
        if (!element.TryGetProperty("level", out var levelElement))
        {
            errors.Missing(index, "level", LevelAllowed);
        }
        else if (ReadLevel(levelElement) is { } l)
        {
            level = l;
        }
        else
        {
            errors.Add(index, "level", levelElement, LevelAllowed);
        }

        var time = ReadTime(element, index, options, now, errors);
        string sender = ReadText(element, index, "sender", 1, options.MaxSenderLength, "maxSenderLength", errors);
        string message = ReadText(element, index, "message", 0, options.MaxMessageLength, "maxMessageLength", errors);
        return errors.Count == before ? new IngestionRow(sender, message, level, time) : null;
    }

    /// <summary>A level: an integer 0–100 (a JSON number with no fraction) or a name of <see cref="LevelNames"/>; null otherwise.</summary>
    public static int? ReadLevel(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Number when element.TryGetDecimal(out decimal d) && d == decimal.Truncate(d) && d is >= 0 and <= 100 => (int)d,
        JsonValueKind.String when LevelNames.TryGetValue(element.GetString()!, out int named) => named,
        _ => null,
    };

    /// <summary>The opaque paging cursor of <paramref name="position"/> for <paramref name="kind"/> (base64url of
    /// <c>l|n:&lt;UTC ticks&gt;:&lt;id&gt;</c>).</summary>
    public static string EncodeCursor(RowKind kind, RowCursor position)
    {
        ArgumentNullException.ThrowIfNull(position);
        string text = string.Create(CultureInfo.InvariantCulture, $"{CursorPrefix(kind)}:{position.Time.UtcTicks}:{position.Id}");
        return Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));
    }

    /// <summary>The position of a cursor made by <see cref="EncodeCursor"/> for the same <paramref name="kind"/>; null for anything else.</summary>
    public static RowCursor? DecodeCursor(RowKind kind, string cursor)
    {
        ArgumentNullException.ThrowIfNull(cursor);
        if (cursor.Length is 0 or > 100)
        {
            return null;
        }

        string text;
        try
        {
            text = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor));
        }
        catch (FormatException)
        {
            return null;
        }

        return text.Split(':') is [var prefix, var ticks, var id]
            && prefix == CursorPrefix(kind)
            && long.TryParse(ticks, NumberStyles.None, CultureInfo.InvariantCulture, out long t) && t <= DateTimeOffset.MaxValue.UtcTicks
            && long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out long i)
            ? new RowCursor(new DateTimeOffset(t, TimeSpan.Zero), i)
            : null;
    }

    /// <summary>Reads the fields of a <c>getLogs</c> / <c>getNotifications</c> request from <paramref name="fields"/> (the
    /// frame, or an HTTP query made into an object by the caller).</summary>
    public static IngestionRequest ParseRead(RowKind kind, JsonElement fields)
    {
        string action = IngestionActions.Read(kind);
        var problems = new List<string>();
        void Problem(string field, JsonElement value, string allowed) => problems.Add($"{field} {Display(value)}: {allowed}");

        TimeSpan timewindow = default;
        if (!fields.TryGetProperty("timewindow", out var tw))
        {
            problems.Add("timewindow is missing: must be a number of seconds > 0 (rows no older than that are answered)");
        }
        else if (tw.ValueKind == JsonValueKind.Number && tw.TryGetDouble(out double seconds) && seconds > 0 && double.IsFinite(seconds))
        {
            // Any window longer than the epoch's age reaches every row: cap it there rather than overflow.
            timewindow = TimeSpan.FromSeconds(Math.Min(seconds, TimeSpan.FromDays(36_500).TotalSeconds));
        }
        else
        {
            Problem("timewindow", tw, "must be a number of seconds > 0");
        }

        string? sender = null;
        if (Present(fields, "sender", out var s))
        {
            if (s.ValueKind == JsonValueKind.String)
            {
                sender = s.GetString();
            }
            else
            {
                Problem("sender", s, "must be a string (only that sender's rows are answered)");
            }
        }

        int? maxLevel = null;
        if (Present(fields, "level", out var lv))
        {
            maxLevel = ReadLevel(lv);
            if (maxLevel is null)
            {
                Problem("level", lv, LevelAllowed + " (rows with a level <= it are answered)");
            }
        }

        int limit = DefaultLimit;
        if (Present(fields, "limit", out var lim))
        {
            if (lim.ValueKind == JsonValueKind.Number && lim.TryGetInt32(out int n) && n is >= 1 and <= MaxLimit)
            {
                limit = n;
            }
            else
            {
                Problem("limit", lim, $"must be an integer from 1 to {MaxLimit}");
            }
        }

        RowCursor? before = null;
        if (Present(fields, "before", out var b))
        {
            before = b.ValueKind == JsonValueKind.String ? DecodeCursor(kind, b.GetString()!) : null;
            if (before is null)
            {
                Problem("before", b, $"must be the \"next\" cursor of a previous {action} answer, unchanged");
            }
        }

        return problems.Count > 0
            ? new InvalidRequest(action, $"{action}: {string.Join("; ", problems)}.")
            : new ReadRequest(kind, timewindow, sender, maxLevel, limit, before);
    }

    /// <summary>How a value is shown in a comment: a string quoted and cut, a number as sent (cut), or its JSON type.</summary>
    public static string Display(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => ConfigObjectReader.Quote(value.GetString()!),
        JsonValueKind.Number => Cut(value.GetRawText()),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Null => "null",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => $"an array of {value.GetArrayLength()}",
        _ => "nothing",
    };

    /// <summary>Parses exactly one JSON value (UTF-8 checked); throws <see cref="JsonException"/> for anything else, trailing
    /// content included.</summary>
    private static JsonDocument ParseOne(ReadOnlySpan<byte> utf8)
    {
        // The reader checks the structure but not the bytes inside strings: check them all first, so that reading a string
        // can never fail later.
        if (!Utf8.IsValid(utf8))
        {
            throw new JsonException("the bytes are not valid UTF-8");
        }

        var reader = new Utf8JsonReader(utf8, ReaderOptions);
        var document = JsonDocument.ParseValue(ref reader);
        try
        {
            // After the value only whitespace may follow: the reader throws at anything else.
            reader.Read();
            return document;
        }
        catch (JsonException)
        {
            document.Dispose();
            throw;
        }
    }

    private static string CursorPrefix(RowKind kind) => kind == RowKind.Logs ? "l" : "n";

    /// <summary>Whether <paramref name="name"/> is set to something other than null (an optional field).</summary>
    private static bool Present(JsonElement fields, string name, out JsonElement value) =>
        fields.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    private static string Cut(string text) => text.Length <= 120 ? text : text[..117] + "...";

    private static IngestionRequest ParseAuth(JsonElement root) =>
        root.TryGetProperty("token", out var token) && token.ValueKind == JsonValueKind.String && token.GetString()!.Length > 0
            ? new AuthRequest(token.GetString()!)
            // The value is not shown: it may be a token sent in the wrong shape.
            : new InvalidRequest(IngestionActions.Auth, "auth: \"token\" must be a non-empty string (the ingestion token).");

    private static IngestionRequest ParseUpload(RowKind kind, JsonElement root, IngestionOptions options, DateTimeOffset now)
    {
        root.TryGetProperty(IngestionActions.Field(kind), out var list);
        var rows = ReadRows(kind, list, options, now, out string? comment);
        return rows is null ? new InvalidRequest(IngestionActions.Upload(kind), comment!) : new UploadRequest(kind, rows);
    }

    private static IngestionRequest ParseInsertConfig(JsonElement root) =>
        root.TryGetProperty("config", out var config) && config.ValueKind == JsonValueKind.Object
            ? new InsertConfigRequest(config.GetRawText())
            : new InvalidRequest(IngestionActions.InsertConfig,
                $"insertConfig: config {(root.TryGetProperty("config", out var c) ? Display(c) : "is missing")}: must be a JSON object (the agent's configuration document).");

    private static DateTimeOffset ReadTime(JsonElement row, int index, IngestionOptions options, DateTimeOffset now, RowErrors errors)
    {
        var oldest = now - options.MaxRowAge;
        var newest = now + options.MaxClockSkew;
        if (!row.TryGetProperty("time", out var element))
        {
            errors.Missing(index, "time", TimeAllowed(options, oldest, newest));
            return default;
        }

        // Beyond ±1e11 s (year 5138) the microseconds would not fit: such a time is out of range anyway.
        if (element.ValueKind == JsonValueKind.Number && element.TryGetDecimal(out decimal seconds) && Math.Abs(seconds) < 1e11m)
        {
            // Microsecond precision, as PostgreSQL's timestamptz keeps it.
            long micros = (long)decimal.Round(seconds * 1_000_000m, MidpointRounding.ToEven);
            var time = DateTimeOffset.UnixEpoch.AddTicks(micros * 10);
            if (time >= oldest && time <= newest)
            {
                return time;
            }
        }

        errors.Add(index, "time", element, TimeAllowed(options, oldest, newest));
        return default;
    }

    private static string TimeAllowed(IngestionOptions options, DateTimeOffset oldest, DateTimeOffset newest) => string.Create(CultureInfo.InvariantCulture,
        $"must be epoch seconds (a number, fractions allowed) from {IngestionReplies.EpochSeconds(oldest)} (now − maxRowAge {Duration.Format(options.MaxRowAge)}) to {IngestionReplies.EpochSeconds(newest)} (now + maxClockSkew {Duration.Format(options.MaxClockSkew)})");

    private static string ReadText(JsonElement row, int index, string field, int min, int max, string limitName, RowErrors errors)
    {
        if (row.TryGetProperty(field, out var element) && element.ValueKind == JsonValueKind.String)
        {
            string text = element.GetString()!;
            if (text.Contains('\0', StringComparison.Ordinal))
            {
                // PostgreSQL's text cannot hold it; refused everywhere so that SQLite and PostgreSQL agree.
                errors.Add(index, field, element, "must not contain the NUL character (\\u0000)");
                return "";
            }

            if (text.Length >= min && text.Length <= max)
            {
                return text;
            }

            errors.Add(index, field, element, string.Create(CultureInfo.InvariantCulture, $"{text.Length} characters; {TextAllowed(min, max, limitName)}"));
        }
        else if (element.ValueKind == JsonValueKind.Undefined)
        {
            errors.Missing(index, field, TextAllowed(min, max, limitName));
        }
        else
        {
            errors.Add(index, field, element, TextAllowed(min, max, limitName));
        }

        return "";
    }

    private static string TextAllowed(int min, int max, string limitName) => min > 0
        ? string.Create(CultureInfo.InvariantCulture, $"must be a string of {min}–{max} characters ({limitName})")
        : string.Create(CultureInfo.InvariantCulture, $"must be a string of at most {max} characters ({limitName})");

    /// <summary>The problems found in an upload's rows, turned into one comment.</summary>
    internal sealed class RowErrors(RowKind kind)
    {
        private readonly List<string> _listed = [];

        public int Count { get; private set; }

        public void Add(int index, string? field, JsonElement value, string allowed) =>
            Record(string.Create(CultureInfo.InvariantCulture, $"{Path(index, field)} {Display(value)}: {allowed}"));

        public void Missing(int index, string field, string allowed) =>
            Record($"{Path(index, field)} is missing: {allowed}");

        public void Invalid(int index, int line, string problem) =>
            Record(string.Create(CultureInfo.InvariantCulture, $"{Path(index, null)} (line {line}) {problem}: each line must be one JSON row object"));

        public string? Comment()
        {
            if (Count == 0)
            {
                return null;
            }

            string more = Count > _listed.Count ? string.Create(CultureInfo.InvariantCulture, $" (and {Count - _listed.Count} more)") : "";
            return $"{IngestionActions.Upload(kind)}: {string.Join("; ", _listed)}{more}. Nothing was stored.";
        }

        private string Path(int index, string? field) =>
            string.Create(CultureInfo.InvariantCulture, $"{IngestionActions.Field(kind)}[{index}]{(field is null ? "" : "." + field)}");

        private void Record(string problem)
        {
            if (_listed.Count < MaxErrorsListed)
            {
                _listed.Add(problem);
            }

            Count++;
        }
    }
}
