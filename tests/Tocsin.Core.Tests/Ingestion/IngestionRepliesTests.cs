using System.Text;
using Tocsin.Ingestion;

namespace Tocsin.Core.Tests.Ingestion;

/// <summary>The reply frames, byte for byte in the seed's shapes.</summary>
public sealed class IngestionRepliesTests
{
    private static readonly DateTimeOffset Time = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000).AddMilliseconds(120);

    private static string Text(byte[] frame) => Encoding.UTF8.GetString(frame);

    private static readonly StoredRow[] Rows =
    [
        new(2, "wd", "dns", "second", 30, Time),
        new(1, "wd", "fw", "first", 20, Time.AddTicks(-10)),
    ];

    [Fact]
    public void Status_replies_carry_success_action_and_comment()
    {
        Assert.Equal("""{"success":true,"action":"ping"}""", Text(IngestionReplies.Success("ping")));
        Assert.Equal("""{"success":true,"action":"uploadLogs","comment":"Inserted 2 log(s) into db."}""",
            Text(IngestionReplies.Success("uploadLogs", IngestionHandler.Inserted(RowKind.Logs, 2))));
        Assert.Equal("""{"success":false,"action":null,"comment":"bad"}""", Text(IngestionReplies.Failure(null, "bad")));
        Assert.Equal("Inserted 1 notification(s) into db.", IngestionHandler.Inserted(RowKind.Notifications, 1));
    }

    [Fact]
    public void Logs_are_sender_message_level_triples_newest_first()
    {
        Assert.Equal("""{"success":true,"action":"getLogs","logs":[["dns","second",30],["fw","first",20]]}""",
            Text(IngestionReplies.Rows(RowKind.Logs, Rows, null)));
    }

    [Fact]
    public void Notifications_add_the_time_in_epoch_seconds_and_a_next_cursor_when_given()
    {
        Assert.Equal("""{"success":true,"action":"getNotifications","notifications":[["dns","second",30,1700000000.12],["fw","first",20,1700000000.119999]],"next":"abc"}""",
            Text(IngestionReplies.Rows(RowKind.Notifications, Rows, "abc")));
        Assert.Equal("""{"success":true,"action":"uploadNotifications","notifications":[["dns","second",30,1700000000.12]]}""",
            Text(IngestionReplies.Push([Rows[0]])));
        Assert.Equal(1_700_000_000m, IngestionReplies.EpochSeconds(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000)));
    }

    [Fact]
    public void The_config_is_the_stored_document()
    {
        Assert.Equal("""{"success":true,"action":"getConfig","config":{"a":[1,{"b":null}]}}""",
            Text(IngestionReplies.Config("""{"a": [1, {"b": null}]}""")));
    }

    [Fact]
    public void Text_is_escaped_as_json()
    {
        var row = new StoredRow(1, "wd", "a\"b", "line\nnext <tag> é", 10, Time);
        Assert.Equal("""{"success":true,"action":"getLogs","logs":[["a\u0022b","line\nnext \u003Ctag\u003E \u00E9",10]]}""",
            Text(IngestionReplies.Rows(RowKind.Logs, [row], null)));
    }
}
