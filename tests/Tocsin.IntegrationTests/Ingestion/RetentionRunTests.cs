using Tocsin.Ingestion;
using Tocsin.Ingestion.Sqlite;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests.Ingestion;

/// <summary>Retention in a real <c>tocsin start</c>, configured the seed 002 way (LOGS_TIMEWINDOW, CLEANUP_INTERVAL).</summary>
public sealed class RetentionRunTests : IDisposable
{
    private readonly TempFolder _folder = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Logs_older_than_LOGS_TIMEWINDOW_are_purged_every_CLEANUP_INTERVAL_and_notifications_are_kept()
    {
        string config = AgentConfig.Write(_folder);
        string path = _folder.File("outbox.ingestion.db");
        var now = DateTimeOffset.UtcNow;
        await using (var store = new SqliteIngestionStore(path, TimeProvider.System))
        {
            await store.InitializeAsync(Ct);
            // Old rows from before the start; one that turns old 3 s after the start.
            await store.AppendAsync(RowKind.Logs, [new IngestionBatch("wd", [new("s", "old", 20, now.AddMinutes(-5)), new("s", "soon old", 20, now.AddSeconds(-57))])], Ct);
            await store.AppendAsync(RowKind.Notifications, [new IngestionBatch("wd", [new("s", "kept", 50, now.AddMinutes(-5))])], Ct);
        }

        var env = new Dictionary<string, string?> { ["LOGS_TIMEWINDOW"] = "60", ["CLEANUP_INTERVAL"] = "1" };
        await using var agent = TocsinProcess.Start(_folder.Path, ["start", "--config-path", config], env);
        await using var reader = new SqliteIngestionStore(path, TimeProvider.System);
        async Task<string[]> Logs() =>
            [.. (await reader.QueryAsync(RowKind.Logs, new RowQuery("wd", now.AddDays(-1)), Ct)).Select(r => r.Message)];

        await Poll.UntilAsync(Logs, l => !l.Contains("old"), TimeSpan.FromSeconds(30), "the old log purged", () => agent.Output);
        await Poll.UntilAsync(Logs, l => l.Length == 0, TimeSpan.FromSeconds(30), "the second log purged once past 60 s", () => agent.Output);
        var notifications = await reader.QueryAsync(RowKind.Notifications, new RowQuery("wd", now.AddDays(-1)), Ct);
        Assert.Equal(["kept"], notifications.Select(r => r.Message));
    }
}
