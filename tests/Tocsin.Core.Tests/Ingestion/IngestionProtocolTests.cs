using System.Text;
using System.Text.Json;
using Tocsin.Ingestion;

namespace Tocsin.Core.Tests.Ingestion;

/// <summary>Seed 002's frames: parsing, validation of every field against the limits, the whole-frame rule, HTTP bodies.</summary>
public sealed class IngestionProtocolTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
    private static readonly IngestionOptions Options = new() { MaxRowsPerFrame = 3, MaxSenderLength = 5, MaxMessageLength = 10 };

    private static IngestionRequest Parse(string frame, IngestionOptions? options = null) =>
        IngestionProtocol.Parse(Encoding.UTF8.GetBytes(frame), options ?? Options, Now);

    private static string Refused(string frame, string? action)
    {
        var invalid = Assert.IsType<InvalidRequest>(Parse(frame));
        Assert.Equal(action, invalid.Action);
        return invalid.Comment;
    }

    private static string Row(string level = "20", string time = "1700000000.12", string sender = "\"dns\"", string message = "\"ok\"") =>
        $$"""{"level": {{level}}, "time": {{time}}, "sender": {{sender}}, "message": {{message}}}""";

    private static string Upload(params string[] rows) => $$"""{"action": "uploadLogs", "logs": [{{string.Join(",", rows)}}]}""";

    [Fact]
    public void The_seeds_upload_frame_is_read_as_sent()
    {
        var upload = Assert.IsType<UploadRequest>(Parse(
            """{"action":"uploadLogs","logs":[{"level":20,"time":1700000000.12,"sender":"dns","message":"…"}]}"""));

        Assert.Equal(RowKind.Logs, upload.Kind);
        Assert.Equal("uploadLogs", upload.Action);
        var row = Assert.Single(upload.Rows);
        Assert.Equal(new IngestionRow("dns", "…", 20, Now.AddMilliseconds(120)), row);
    }

    [Fact]
    public void Notifications_use_their_own_field_and_times_keep_microseconds()
    {
        var upload = Assert.IsType<UploadRequest>(Parse(
            """{"action":"uploadNotifications","notifications":[{"level":"ERROR","time":1699999999.123456,"sender":"fw","message":"","extra":1}]}"""));

        Assert.Equal(RowKind.Notifications, upload.Kind);
        var row = Assert.Single(upload.Rows);
        Assert.Equal(40, row.Level);
        Assert.Equal("", row.Message);
        Assert.Equal(Now.AddTicks(-8_765_440), row.Time);
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("100", 100)]
    [InlineData("30.0", 30)]
    [InlineData("\"debug\"", 10)]
    [InlineData("\"Info\"", 20)]
    [InlineData("\"WARNING\"", 30)]
    [InlineData("\"warn\"", 30)]
    [InlineData("\"error\"", 40)]
    [InlineData("\"critical\"", 50)]
    [InlineData("\"fatal\"", 50)]
    public void Levels_are_integers_or_names(string level, int expected) =>
        Assert.Equal(expected, Assert.IsType<UploadRequest>(Parse(Upload(Row(level: level)))).Rows[0].Level);

    [Theory]
    [InlineData("101", "101")]
    [InlineData("-1", "-1")]
    [InlineData("20.5", "20.5")]
    [InlineData("\"verbose\"", "\"verbose\"")]
    [InlineData("\"20\"", "\"20\"")]
    [InlineData("true", "true")]
    [InlineData("null", "null")]
    public void A_bad_level_is_named_with_its_value_and_what_is_allowed(string level, string shown)
    {
        string comment = Refused(Upload(Row(), Row(level: level)), "uploadLogs");

        Assert.StartsWith("uploadLogs: logs[1].level " + shown + ": must be an integer 0–100 or a level name (debug 10", comment);
        Assert.EndsWith("Nothing was stored.", comment);
    }

    [Theory]
    [InlineData("1697321600", "logs[0].time 1697321600")] // a day older than maxRowAge (30 d)
    [InlineData("1700000301", "logs[0].time 1700000301")] // beyond maxClockSkew (5 min)
    [InlineData("\"1700000000\"", "logs[0].time \"1700000000\"")]
    [InlineData("1e300", "logs[0].time 1e300")]
    public void Times_outside_the_accepted_range_are_refused_with_the_range(string time, string named)
    {
        string comment = Refused(Upload(Row(time: time)), "uploadLogs");

        Assert.Contains(named + ": must be epoch seconds (a number, fractions allowed) from 1697408000 (now − maxRowAge 30d) to 1700000300 (now + maxClockSkew 5m)", comment);
    }

    [Fact]
    public void The_range_edges_are_accepted()
    {
        var upload = Assert.IsType<UploadRequest>(Parse(Upload(Row(time: "1697408000"), Row(time: "1700000300"))));
        Assert.Equal([Now.AddDays(-30), Now.AddMinutes(5)], upload.Rows.Select(r => r.Time));
    }

    [Theory]
    [InlineData("\"\"", "logs[0].sender \"\": 0 characters; must be a string of 1–5 characters (maxSenderLength)")]
    [InlineData("\"sixsix\"", "logs[0].sender \"sixsix\": 6 characters; must be a string of 1–5 characters (maxSenderLength)")]
    [InlineData("42", "logs[0].sender 42: must be a string of 1–5 characters (maxSenderLength)")]
    public void Senders_are_one_to_max_characters(string sender, string expected) =>
        Assert.Contains(expected, Refused(Upload(Row(sender: sender)), "uploadLogs"));

    [Fact]
    public void A_nul_character_is_refused_in_any_text_as_postgresql_cannot_store_it() =>
        Assert.Contains("logs[0].message", Refused(Upload(Row(message: "\"a\\u0000b\"")), "uploadLogs"));

    [Fact]
    public void Messages_longer_than_the_limit_are_refused_and_long_values_are_cut()
    {
        string message = new('x', 500);
        string comment = Refused(Upload(Row(message: $"\"{message}\"")), "uploadLogs");

        Assert.Contains("logs[0].message \"" + new string('x', 117) + "...\": 500 characters; must be a string of at most 10 characters (maxMessageLength)", comment);
        Assert.True(comment.Length < 400, comment);
    }

    [Fact]
    public void Missing_fields_and_non_object_rows_are_named()
    {
        string comment = Refused("""{"action":"uploadLogs","logs":[{"time":1700000000,"sender":"a","message":"m"},5]}""", "uploadLogs");

        Assert.Contains("logs[0].level is missing: must be an integer 0–100", comment);
        Assert.Contains("logs[1] 5: must be an object {\"level\", \"time\", \"sender\", \"message\"}", comment);
    }

    [Fact]
    public void At_most_five_problems_are_listed_and_the_rest_counted()
    {
        string comment = Refused(Upload(Row(level: "-1", sender: "1"), Row(level: "-1", sender: "1"), Row(level: "-1", sender: "1")), "uploadLogs");

        Assert.Equal(5, comment.Split("; ").Length);
        Assert.EndsWith("(and 1 more). Nothing was stored.", comment);
    }

    [Theory]
    [InlineData("""{"action":"uploadLogs","logs":[]}""", "uploadLogs", "logs")]
    [InlineData("""{"action":"uploadLogs","logs":{"level":20}}""", "uploadLogs", "logs")]
    [InlineData("""{"action":"uploadLogs"}""", "uploadLogs", "logs")]
    [InlineData("""{"action":"uploadNotifications","notifications":"x"}""", "uploadNotifications", "notifications")]
    [InlineData("""{"action":"uploadNotifications","logs":[{"level":20}]}""", "uploadNotifications", "notifications")]
    public void Not_a_non_empty_list_gets_the_seeds_exact_comment(string frame, string action, string field) =>
        Assert.Equal($"Please submit {field} as list of length >= 1", Refused(frame, action));

    [Fact]
    public void More_rows_than_max_rows_per_frame_are_refused_whole()
    {
        string comment = Refused(Upload(Row(), Row(), Row(), Row()), "uploadLogs");

        Assert.Equal("uploadLogs: 4 logs in one upload; at most 3 (maxRowsPerFrame) are allowed, send them in several.", comment);
    }

    [Theory]
    [InlineData("{\"action\": \"ping\"", "The frame is not valid JSON (")]
    [InlineData("", "The frame is not valid JSON (")]
    [InlineData("{\"action\":\"ping\"} {}", "The frame is not valid JSON (")]
    [InlineData("[1,2]", "The frame is an array of 2; send a JSON object {\"action\": …}.")]
    [InlineData("\"ping\"", "The frame is \"ping\"; send a JSON object")]
    [InlineData("{\"logs\": []}", "The frame has no \"action\" string; known actions: auth, ping, uploadLogs, uploadNotifications, getLogs, getNotifications, getConfig, insertConfig.")]
    [InlineData("{\"action\": 5}", "The frame has no \"action\" string")]
    public void Malformed_frames_are_refused_with_no_action_and_the_problem_named(string frame, string expected) =>
        Assert.StartsWith(expected, Refused(frame, null));

    [Fact]
    public void Bytes_that_are_not_utf8_are_refused()
    {
        var invalid = Assert.IsType<InvalidRequest>(IngestionProtocol.Parse([(byte)'"', 0xff, 0xfe, (byte)'"'], Options, Now));
        Assert.Null(invalid.Action);
        Assert.StartsWith("The frame is not valid JSON", invalid.Comment);
    }

    [Fact]
    public void Deep_nesting_is_refused_not_thrown()
    {
        string deep = "{\"action\":\"insertConfig\",\"config\":" + string.Concat(Enumerable.Repeat("[", 200)) + string.Concat(Enumerable.Repeat("]", 200)) + "}";
        Assert.StartsWith("The frame is not valid JSON", Refused(deep, null));
    }

    [Fact]
    public void An_unknown_action_is_echoed_with_the_known_ones()
    {
        string comment = Refused("""{"action":"deleteLogs"}""", "deleteLogs");
        Assert.Equal("Unknown action \"deleteLogs\"; known actions: auth, ping, uploadLogs, uploadNotifications, getLogs, getNotifications, getConfig, insertConfig.", comment);
        Assert.Equal("uploadlogs", Assert.IsType<InvalidRequest>(Parse("""{"action":"uploadlogs"}""")).Action);
    }

    [Fact]
    public void Auth_carries_the_token_and_never_prints_it()
    {
        var auth = Assert.IsType<AuthRequest>(Parse("""{"action":"auth","token":"s3cret-token"}"""));

        Assert.Equal("s3cret-token", auth.Token);
        Assert.DoesNotContain("s3cret", auth.ToString(), StringComparison.Ordinal);
        Assert.Equal("auth: \"token\" must be a non-empty string (the ingestion token).", Refused("""{"action":"auth","token":""}""", "auth"));
        Assert.DoesNotContain("12345", Refused("""{"action":"auth","token":12345}""", "auth"), StringComparison.Ordinal);
    }

    [Fact]
    public void Simple_actions_parse()
    {
        Assert.IsType<PingRequest>(Parse("""{"action":"ping"}"""));
        Assert.IsType<GetConfigRequest>(Parse("""{"action":"getConfig"}"""));
        Assert.Equal("""{"a": [1, {"b": null}]}""", Assert.IsType<InsertConfigRequest>(Parse("""{"action":"insertConfig","config":{"a": [1, {"b": null}]}}""")).Json);
        Assert.Equal("insertConfig: config \"x\": must be a JSON object (the agent's configuration document).", Refused("""{"action":"insertConfig","config":"x"}""", "insertConfig"));
        Assert.StartsWith("insertConfig: config is missing", Refused("""{"action":"insertConfig"}""", "insertConfig"));
    }

    [Fact]
    public void The_seeds_read_frame_is_read_as_sent()
    {
        var read = Assert.IsType<ReadRequest>(Parse("""{"action":"getLogs","timewindow":10,"sender":"dns","level":30}"""));

        Assert.Equal(new ReadRequest(RowKind.Logs, TimeSpan.FromSeconds(10), "dns", 30, IngestionProtocol.DefaultLimit, null), read);
        var query = read.ToQuery("wd-1", Now);
        Assert.Equal(new RowQuery("wd-1", Now.AddSeconds(-10), "dns", 30, IngestionProtocol.DefaultLimit + 1, null), query);
    }

    [Fact]
    public void Read_options_are_optional_and_null_means_absent()
    {
        var read = Assert.IsType<ReadRequest>(Parse("""{"action":"getNotifications","timewindow":0.5,"sender":null,"level":"warning","limit":2}"""));

        Assert.Equal(new ReadRequest(RowKind.Notifications, TimeSpan.FromMilliseconds(500), null, 30, 2, null), read);
        var huge = Assert.IsType<ReadRequest>(Parse("""{"action":"getLogs","timewindow":1e300}"""));
        Assert.Equal(DateTimeOffset.UnixEpoch, huge.ToQuery("wd", Now).Since);
    }

    [Theory]
    [InlineData("""{"action":"getLogs"}""", "getLogs: timewindow is missing: must be a number of seconds > 0")]
    [InlineData("""{"action":"getLogs","timewindow":0}""", "getLogs: timewindow 0: must be a number of seconds > 0.")]
    [InlineData("""{"action":"getLogs","timewindow":"10"}""", "getLogs: timewindow \"10\": must be a number of seconds > 0.")]
    [InlineData("""{"action":"getLogs","timewindow":10,"sender":3}""", "getLogs: sender 3: must be a string")]
    [InlineData("""{"action":"getLogs","timewindow":10,"level":"loud"}""", "getLogs: level \"loud\": must be an integer 0–100 or a level name")]
    [InlineData("""{"action":"getLogs","timewindow":10,"limit":0}""", "getLogs: limit 0: must be an integer from 1 to 10000.")]
    [InlineData("""{"action":"getLogs","timewindow":10,"limit":10001}""", "getLogs: limit 10001: must be an integer from 1 to 10000.")]
    [InlineData("""{"action":"getNotifications","timewindow":10,"before":"zzz"}""", "getNotifications: before \"zzz\": must be the \"next\" cursor of a previous getNotifications answer, unchanged.")]
    [InlineData("""{"action":"getNotifications","timewindow":-1,"limit":1.5}""", "getNotifications: timewindow -1: must be a number of seconds > 0; limit 1.5: must be an integer from 1 to 10000.")]
    public void Bad_read_fields_are_named(string frame, string expected)
    {
        string action = frame.Contains("getLogs", StringComparison.Ordinal) ? "getLogs" : "getNotifications";
        Assert.StartsWith(expected, Refused(frame, action));
    }

    [Fact]
    public void Cursors_round_trip_and_belong_to_their_kind()
    {
        var position = new RowCursor(Now.AddTicks(1230), 42);
        string cursor = IngestionProtocol.EncodeCursor(RowKind.Logs, position);

        Assert.Equal(position, IngestionProtocol.DecodeCursor(RowKind.Logs, cursor));
        Assert.Null(IngestionProtocol.DecodeCursor(RowKind.Notifications, cursor));
        Assert.Equal(position, Assert.IsType<ReadRequest>(Parse($$"""{"action":"getLogs","timewindow":10,"before":"{{cursor}}"}""")).Before);
        Assert.StartsWith("getNotifications: before", Refused($$"""{"action":"getNotifications","timewindow":10,"before":"{{cursor}}"}""", "getNotifications"));
        Assert.Null(IngestionProtocol.DecodeCursor(RowKind.Logs, "bDotMToy"));
        Assert.Null(IngestionProtocol.DecodeCursor(RowKind.Logs, "!!"));
        Assert.Null(IngestionProtocol.DecodeCursor(RowKind.Logs, ""));
    }

    private static IReadOnlyList<IngestionRow>? Body(string body, bool ndjson, out string? comment) =>
        IngestionProtocol.ReadRows(RowKind.Logs, Encoding.UTF8.GetBytes(body), ndjson, Options, Now, out comment);

    [Fact]
    public void Http_bodies_are_a_json_array_or_ndjson_with_blank_lines_skipped()
    {
        var array = Body($"[{Row()},{Row(level: "\"error\"")}]", ndjson: false, out string? c1);
        var lines = Body($"{Row()}\r\n\n  {Row(level: "\"error\"")}  \n", ndjson: true, out string? c2);

        Assert.Null(c1);
        Assert.Null(c2);
        Assert.Equal([20, 40], array!.Select(r => r.Level));
        Assert.Equal(array, lines);
    }

    [Fact]
    public void Http_body_errors_name_the_row_and_line()
    {
        Assert.Null(Body($"{Row()}\n\n{{oops\n{Row(sender: "\"\"")}", ndjson: true, out string? comment));
        Assert.StartsWith("uploadLogs: logs[1] (line 3) is not valid JSON (", comment);
        Assert.Contains("; logs[2].sender \"\": 0 characters", comment);

        Assert.Null(Body("{\"level\": 20}", ndjson: false, out comment));
        Assert.Equal("Please submit logs as list of length >= 1", comment);
        Assert.Null(Body("\n \n", ndjson: true, out comment));
        Assert.Equal("Please submit logs as list of length >= 1", comment);
        Assert.Null(Body("[1,", ndjson: false, out comment));
        Assert.StartsWith("uploadLogs: the body is not valid JSON (", comment);
        Assert.Null(Body(string.Join("\n", Enumerable.Repeat(Row(), 4)), ndjson: true, out comment));
        Assert.Equal("uploadLogs: more than 3 logs in one upload; at most 3 (maxRowsPerFrame) are allowed, send them in several.", comment);
    }

    [Fact]
    public void Level_reading_is_shared_with_filters()
    {
        using var doc = JsonDocument.Parse("""["FATAL", 7, 7.5]""");
        Assert.Equal([50, 7, null], doc.RootElement.EnumerateArray().Select(IngestionProtocol.ReadLevel));
    }
}
