namespace Tocsin.Ingestion.Postgres;

/// <summary>Settings of <see cref="PostgresNotificationFanout"/> (not in the configuration file: the defaults suit a server).</summary>
public sealed record PostgresFanoutOptions
{
    /// <summary>Batches waiting per local receiver before new ones are dropped for it (1–100000).
    /// <value>Default: <see cref="LocalNotificationFanout.DefaultQueueCapacity"/> (64).</value></summary>
    public int QueueCapacity { get; init; } = LocalNotificationFanout.DefaultQueueCapacity;

    /// <summary>Announcements of other replicas waiting to be read before new ones are dropped (1–100000), also the most
    /// publishes being reassembled from chunks at once. <value>Default: 1024.</value></summary>
    public int RemoteQueueCapacity { get; init; } = 1024;

    /// <summary>First wait before opening the listening connection again after it failed (1 ms – 1 h).
    /// <value>Default: 1 s.</value></summary>
    public TimeSpan MinReconnectDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait between attempts (at least <see cref="MinReconnectDelay"/>, at most 1 h). <value>Default: 30 s.</value></summary>
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>After this long without a notification the listening connection is probed (<c>SELECT 1</c>) so that a
    /// connection lost silently is noticed (1 s – 1 h). <value>Default: 30 s.</value></summary>
    public TimeSpan ProbeInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>After an outage of the listening connection, the most notifications (the newest) committed meanwhile by
    /// other replicas that are read and pushed to this replica's receivers (0 – 20000, well under the ids a replica
    /// remembers so that none is pushed twice; 0: none). <value>Default: 10000.</value></summary>
    public int CatchUpLimit { get; init; } = 10_000;

    /// <summary>Checks the ranges above.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Naming the setting out of its range.</exception>
    public void Validate()
    {
        var hour = TimeSpan.FromHours(1);
        Check(QueueCapacity is >= 1 and <= 100_000, nameof(QueueCapacity), QueueCapacity, "must be 1–100000");
        Check(RemoteQueueCapacity is >= 1 and <= 100_000, nameof(RemoteQueueCapacity), RemoteQueueCapacity, "must be 1–100000");
        Check(MinReconnectDelay >= TimeSpan.FromMilliseconds(1) && MinReconnectDelay <= hour, nameof(MinReconnectDelay), MinReconnectDelay, "must be 1 ms – 1 h");
        Check(MaxReconnectDelay >= MinReconnectDelay && MaxReconnectDelay <= hour, nameof(MaxReconnectDelay), MaxReconnectDelay, "must be MinReconnectDelay – 1 h");
        Check(CatchUpLimit is >= 0 and <= 20_000, nameof(CatchUpLimit), CatchUpLimit, "must be 0–20000");
        Check(ProbeInterval >= TimeSpan.FromSeconds(1) && ProbeInterval <= hour, nameof(ProbeInterval), ProbeInterval, "must be 1 s – 1 h");
    }

    private static void Check(bool ok, string name, object value, string allowed)
    {
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} {allowed}");
        }
    }
}
