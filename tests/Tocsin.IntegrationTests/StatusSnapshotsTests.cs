using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tocsin.Checks;
using Tocsin.Checks.Tcp;
using Tocsin.IntegrationTests.Fixtures;
using Tocsin.Status;
using Tocsin.Storage.Sqlite;
using Tocsin.Web;

namespace Tocsin.IntegrationTests;

/// <summary>The shared states snapshot behind the API's list and the dashboard: reused for its age, renewed after it or on a catalog change.</summary>
public sealed class StatusSnapshotsTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static CheckDefinition Check(string name) => new(name, "tcp", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5), new TcpCheckOptions("127.0.0.1", 1));

    private static CheckResult Result(string check, CheckState state, DateTimeOffset at) =>
        new(Guid.CreateVersion7(at), check, "tcp", state, at, at, at.AddMilliseconds(3), 3, null, state.ToString(), null);

    [Fact]
    public async Task Snapshot_is_reused_for_max_age_then_read_again_and_a_catalog_change_reads_at_once()
    {
        var time = new FakeTimeProvider(T0);
        using var outbox = new SqliteOutbox(_folder.File("o.db"));
        outbox.WriteBatch([Result("a", CheckState.OK, T0)]);
        var catalog = new CheckCatalog([Check("a")]);
        var snapshots = new StatusSnapshots(catalog, new CheckStatusReader(outbox, null, NullLogger<CheckStatusReader>.Instance, time), time, JsonSerializerOptions.Web);
        var ct = TestContext.Current.CancellationToken;

        var first = await snapshots.GetAsync(ct);
        outbox.WriteBatch([Result("a", CheckState.CRITICAL, T0.AddSeconds(1))]);
        time.Advance(TimeSpan.FromMilliseconds(900));
        var same = await snapshots.GetAsync(ct);
        time.Advance(TimeSpan.FromMilliseconds(100));
        var stale = await snapshots.GetAsync(ct); // answered at once while the new read runs
        var renewed = await snapshots.Pending!;

        Assert.Same(first, same);
        Assert.Same(first, stale);
        Assert.Same(renewed, await snapshots.GetAsync(ct));
        Assert.Equal("OK", first.Find("a")!.State);
        Assert.NotSame(first, renewed);
        Assert.Equal("CRITICAL", renewed.Find("a")!.State);
        Assert.True(renewed.Sequence > first.Sequence);
        Assert.NotEqual(first.ETag, renewed.ETag);
        Assert.Equal("a", JsonDocument.Parse(renewed.Json).RootElement[0].GetProperty("name").GetString());

        catalog.SetDiscovered([Check("b")], [], (x, y) => x == y);
        var withB = await snapshots.GetAsync(ct);
        Assert.NotSame(renewed, withB);
        Assert.Equal("PENDING", withB.Find("b")!.State);
        Assert.Null(withB.Find("nope"));

        // Past the stale limit callers wait for the new read.
        outbox.WriteBatch([Result("a", CheckState.OK, T0.AddSeconds(2))]);
        time.Advance(TimeSpan.FromSeconds(6));
        var waited = await snapshots.GetAsync(ct);
        Assert.NotSame(withB, waited);
        Assert.Equal("OK", waited.Find("a")!.State);
    }

    [Fact]
    public async Task Concurrent_callers_share_one_read()
    {
        var time = new FakeTimeProvider(T0);
        using var outbox = new SqliteOutbox(_folder.File("o.db"));
        var names = Enumerable.Range(0, 2000).Select(i => $"c{i}").ToList();
        outbox.WriteBatch([.. names.Select(n => Result(n, CheckState.OK, T0))]);
        var snapshots = new StatusSnapshots(new CheckCatalog([.. names.Select(Check)]), new CheckStatusReader(outbox, null, NullLogger<CheckStatusReader>.Instance, time), time, JsonSerializerOptions.Web);

        var all = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() => snapshots.GetAsync(TestContext.Current.CancellationToken))));

        Assert.Single(all.Select(s => s.Sequence).Distinct());
        Assert.Equal(2000, all[0].Reading.Checks.Count);
    }
}
