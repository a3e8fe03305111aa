using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tocsin.Access;
using Tocsin.Ingestion;
using Tocsin.Ingestion.Sqlite;

namespace Tocsin.Core.Tests.Ingestion;

/// <summary>The request handler shared by /ws and HTTP, over a real SQLite store.</summary>
public sealed class IngestionHandlerTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
    private static readonly IngestionPrincipal Agent = new("wd-1", IngestionRole.Agent, "t1");
    private static readonly IngestionPrincipal User = new("wd-1", IngestionRole.User, "t2");
    private static readonly IngestionPrincipal OtherAgent = new("wd-2", IngestionRole.Agent, "t3");
    private readonly TempFolder _folder = new();
    private readonly FakeTimeProvider _time = new(Now);
    private readonly PublishRecorder _fanout = new();
    private SqliteIngestionStore _store = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _store = new SqliteIngestionStore(_folder.File("ingestion.db"), _time);
        await _store.InitializeAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _store.DisposeAsync();
        _folder.Dispose();
    }

    private IngestionHandler Handler(IIngestionWriter? writer = null) =>
        new(_store, writer ?? new DirectIngestionWriter(_store), _fanout, new IngestionOptions(), _time, NullLogger<IngestionHandler>.Instance);

    private static async Task<JsonElement> Reply(IngestionHandler handler, IngestionPrincipal who, string frame)
    {
        byte[] reply = await handler.HandleAsync(who, handler.Parse(Encoding.UTF8.GetBytes(frame)), Ct);
        return JsonDocument.Parse(reply).RootElement;
    }

    private static string Upload(string action, string field, params string[] messages) =>
        $$"""{"action":"{{action}}","{{field}}":[{{string.Join(",", messages.Select(m => $$"""{"level":20,"time":1699999990,"sender":"dns","message":"{{m}}"}"""))}}]}""";

    [Fact]
    public async Task An_agents_upload_is_committed_then_acknowledged_and_notifications_are_published()
    {
        var handler = Handler();

        var logs = await Reply(handler, Agent, Upload("uploadLogs", "logs", "a", "b"));
        var notes = await Reply(handler, Agent, Upload("uploadNotifications", "notifications", "n"));

        Assert.Equal("""{"success":true,"action":"uploadLogs","comment":"Inserted 2 log(s) into db."}""", logs.GetRawText());
        Assert.Equal("Inserted 1 notification(s) into db.", notes.GetProperty("comment").GetString());
        Assert.Equal(2, (await _store.QueryAsync(RowKind.Logs, new RowQuery("wd-1", Now.AddMinutes(-1)), Ct)).Count);
        var (identity, rows) = Assert.Single(_fanout.Published);
        Assert.Equal("wd-1", identity);
        Assert.Equal("n", Assert.Single(rows).Message);
        Assert.True(rows[0].Id > 0);
    }

    [Fact]
    public async Task A_user_cannot_upload_or_insert_a_config_and_nothing_is_stored()
    {
        var handler = Handler();

        Assert.Equal("""{"success":false,"action":"uploadLogs","comment":"Only wds can upload logs."}""",
            (await Reply(handler, User, Upload("uploadLogs", "logs", "a"))).GetRawText());
        Assert.Equal("Only wds can upload notifications.", (await Reply(handler, User, Upload("uploadNotifications", "notifications", "a"))).GetProperty("comment").GetString());
        Assert.Equal("Only wds can insert a config.", (await Reply(handler, User, """{"action":"insertConfig","config":{}}""")).GetProperty("comment").GetString());
        Assert.Empty(await _store.QueryAsync(RowKind.Logs, new RowQuery("wd-1", Now.AddDays(-1)), Ct));
        Assert.Empty(_fanout.Published);
        Assert.Null(await _store.GetConfigAsync("wd-1", Ct));
    }

    [Fact]
    public async Task Reads_see_only_the_principals_identity_and_page_with_next()
    {
        var handler = Handler();
        await Reply(handler, Agent, Upload("uploadNotifications", "notifications", "1", "2", "3"));
        await Reply(handler, OtherAgent, Upload("uploadNotifications", "notifications", "other"));

        var first = await Reply(handler, User, """{"action":"getNotifications","timewindow":60,"limit":2}""");
        Assert.Equal("""[["dns","3",20,1699999990],["dns","2",20,1699999990]]""", first.GetProperty("notifications").GetRawText());
        string next = first.GetProperty("next").GetString()!;
        var second = await Reply(handler, User, $$"""{"action":"getNotifications","timewindow":60,"limit":2,"before":"{{next}}"}""");
        Assert.Equal("""[["dns","1",20,1699999990]]""", second.GetProperty("notifications").GetRawText());
        Assert.False(second.TryGetProperty("next", out _));

        var other = await Reply(handler, OtherAgent, """{"action":"getNotifications","timewindow":60}""");
        Assert.Equal("""[["dns","other",20,1699999990]]""", other.GetProperty("notifications").GetRawText());
        Assert.Equal("""{"success":true,"action":"getLogs","logs":[]}""", (await Reply(handler, User, """{"action":"getLogs","timewindow":60}""")).GetRawText());

        _time.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(0, (await Reply(handler, User, """{"action":"getNotifications","timewindow":55}""")).GetProperty("notifications").GetArrayLength());
    }

    [Fact]
    public async Task The_config_is_kept_per_identity()
    {
        var handler = Handler();

        Assert.Equal("""{"success":false,"action":"getConfig","comment":"No config exists for this WD code."}""",
            (await Reply(handler, User, """{"action":"getConfig"}""")).GetRawText());
        Assert.Equal("Config stored.", (await Reply(handler, Agent, """{"action":"insertConfig","config":{"dns":{"block":true}}}""")).GetProperty("comment").GetString());
        Assert.True((await Reply(handler, User, """{"action":"getConfig"}""")).GetProperty("config").GetProperty("dns").GetProperty("block").GetBoolean());
        Assert.False((await Reply(handler, OtherAgent, """{"action":"getConfig"}""")).GetProperty("success").GetBoolean());
    }

    [Fact]
    public async Task A_failed_commit_answers_not_stored_and_publishes_nothing()
    {
        var handler = Handler(new FailingWriter());

        var reply = await Reply(handler, Agent, Upload("uploadNotifications", "notifications", "n"));

        Assert.False(reply.GetProperty("success").GetBoolean());
        Assert.Equal("uploadNotifications", reply.GetProperty("action").GetString());
        Assert.Equal("not stored: the database is read-only (test)", reply.GetProperty("comment").GetString());
        Assert.Empty(_fanout.Published);
    }

    [Fact]
    public async Task Bad_frames_and_pings_are_answered()
    {
        var handler = Handler();

        Assert.Equal("""{"success":true,"action":"ping"}""", (await Reply(handler, User, """{"action":"ping"}""")).GetRawText());
        Assert.Equal("Please submit logs as list of length >= 1", (await Reply(handler, Agent, """{"action":"uploadLogs","logs":[]}""")).GetProperty("comment").GetString());
    }

    [Fact]
    public async Task Tokens_are_found_by_their_hash_until_revoked()
    {
        var handler = Handler();
        string token = AccessTokens.Create();
        var stored = await _store.AddTokenAsync("wd-9", IngestionRole.User, AccessTokens.Sha256(token), Ct);

        Assert.Equal(new IngestionPrincipal("wd-9", IngestionRole.User, stored.Id), await handler.AuthenticateAsync(token, Ct));
        Assert.Null(await handler.AuthenticateAsync(token + "x", Ct));
        await _store.RevokeTokenAsync(stored.Id, Ct);
        Assert.Null(await handler.AuthenticateAsync(token, Ct));
    }

    /// <summary>Records what the handler publishes (the fan-out itself is tested with its implementations).</summary>
    private sealed class PublishRecorder : INotificationFanout
    {
        public List<(string Identity, IReadOnlyList<StoredRow> Rows)> Published { get; } = [];

        public IDisposable Subscribe(string identity, Func<IReadOnlyList<StoredRow>, CancellationToken, ValueTask> deliver) =>
            throw new NotSupportedException();

        public ValueTask PublishAsync(string identity, IReadOnlyList<StoredRow> rows, CancellationToken cancellationToken)
        {
            Published.Add((identity, rows));
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class FailingWriter : IIngestionWriter
    {
        public Task<IReadOnlyList<StoredRow>> SubmitAsync(RowKind kind, IngestionBatch batch, CancellationToken cancellationToken) =>
            throw new IngestionStoreException("the database is read-only (test)");
    }
}
