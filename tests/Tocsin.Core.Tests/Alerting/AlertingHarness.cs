using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tocsin.Alerting;
using Tocsin.Checks;
using Tocsin.Checks.Tcp;
using Tocsin.State;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Core.Tests.Alerting;

/// <summary>A channel that records what it is given, and can be made to fail.</summary>
public sealed class RecordingChannel(string name) : INotificationChannel
{
    private readonly List<Notification> _sent = [];

    public string Name { get; } = name;

    public string Type => "test";

    /// <summary>When set, every send fails with this (transient unless <see cref="Permanent"/>).</summary>
    public string? FailWith { get; set; }

    public bool Permanent { get; set; }

    public int Attempts { get; private set; }

    public IReadOnlyList<Notification> Sent
    {
        get
        {
            lock (_sent)
            {
                return [.. _sent];
            }
        }
    }

    public Task SendAsync(Notification notification, CancellationToken cancellationToken)
    {
        lock (_sent)
        {
            Attempts++;
            if (FailWith is { } reason)
            {
                throw new NotificationDeliveryException($"test \"{Name}\": {reason}", Permanent);
            }

            _sent.Add(notification);
        }

        return Task.CompletedTask;
    }
}

/// <summary>
/// A real outbox in a temp folder, a catalog of TCP checks, a fake clock and recording channels: results go in through
/// <see cref="SqliteOutbox.WriteBatch"/> (state tracking writes the events) and <see cref="Step"/> runs a notifier pass and a
/// delivery round per channel.
/// </summary>
public sealed class AlertingHarness : IAsyncDisposable
{
    private readonly TempFolder _folder = new();
    private readonly Dictionary<string, RecordingChannel> _channels;

    public AlertingHarness(IEnumerable<CheckDefinition> checks, IReadOnlyList<MaintenanceWindow>? maintenance = null, params string[] channels)
        : this(checks, maintenance, null, channels)
    {
    }

    /// <summary>With <paramref name="store"/> instead of the outbox (e.g. a central PostgreSQL store).</summary>
    public AlertingHarness(IEnumerable<CheckDefinition> checks, IReadOnlyList<MaintenanceWindow>? maintenance, IAlertStore? store, params string[] channels)
    {
        Time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
        Outbox = new SqliteOutbox(_folder.File("local.db"));
        Checks = [.. checks];
        Catalog = new CheckCatalog(Checks);
        _channels = (channels.Length == 0 ? ["ops"] : channels).ToDictionary(c => c, c => new RecordingChannel(c), StringComparer.Ordinal);
        Store = store ?? new SqliteAlertStore(Outbox);
        Notifier = new Notifier(
            Store, Catalog, maintenance ?? [], _channels.ToDictionary(kv => kv.Key, kv => (INotificationChannel)kv.Value), () => Leader,
            new NotifierOptions { PublicUrl = new Uri("https://tocsin.example/") }, Time, null, NullLogger<Notifier>.Instance);
    }

    public FakeTimeProvider Time { get; }

    public SqliteOutbox Outbox { get; }

    public IAlertStore Store { get; }

    public List<CheckDefinition> Checks { get; }

    public CheckCatalog Catalog { get; }

    public Notifier Notifier { get; }

    public bool Leader { get; set; } = true;

    public RecordingChannel Channel(string name = "ops") => _channels[name];

    /// <summary>A TCP check (never run: results are written directly) with the given alerting.</summary>
    public static CheckDefinition Check(string name, AlertPolicy? policy = null, int failureThreshold = 1, TimeSpan? interval = null, IReadOnlyList<string>? tags = null) =>
        new(name, "tcp", interval ?? TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(5), new TcpCheckOptions("localhost", 1))
        {
            Alerting = policy ?? new AlertPolicy { Notify = ["ops"] },
            Thresholds = new StateThresholds(failureThreshold, 1),
            Tags = tags ?? [],
        };

    /// <summary>Writes one result of <paramref name="check"/> at the current fake time, then advances the clock by <paramref name="advance"/> (default 1 s).</summary>
    public void Result(string check, CheckState state, string message = "", TimeSpan? advance = null)
    {
        var at = Time.GetUtcNow();
        var r = new CheckResult(Guid.CreateVersion7(at), check, "tcp", state, at, at, at, 1, null, message.Length == 0 ? state.ToString() : message, null);
        var thresholds = StateThresholds.Lookup(Checks);
        Outbox.WriteBatch([r], thresholds);
        Time.Advance(advance ?? TimeSpan.FromSeconds(1));
    }

    /// <summary>One notifier pass, then one delivery round per channel.</summary>
    public async Task Step()
    {
        while (await Notifier.ProcessOnceAsync(CancellationToken.None))
        {
        }

        foreach (var c in _channels.Values)
        {
            await Notifier.DeliverOnceAsync(c, CancellationToken.None);
        }
    }

    /// <summary>What channel <paramref name="name"/> received, as "type check state" strings.</summary>
    public List<string> Received(string name = "ops") =>
        [.. Channel(name).Sent.Select(n => $"{n.Type.Name()} {n.CheckName} {n.State}")];

    public async ValueTask DisposeAsync()
    {
        await Notifier.DisposeAsync();
        Outbox.Dispose();
        _folder.Dispose();
    }
}
