namespace Tocsin.Alerting;

/// <summary>An <see cref="AlertEvent"/> with its position in the store (events are processed in this order).</summary>
public readonly record struct StoredEvent(long Seq, AlertEvent Event);

/// <summary>What an <see cref="AlertCommand"/> asks.</summary>
public enum AlertCommandType
{
    /// <summary><c>ack</c>: acknowledge the check's current problem (<see cref="AlertCommand.Target"/>: its incident id, when known).</summary>
    Acknowledge,
    /// <summary><c>silence</c>: hold the check's notifications until <see cref="AlertCommand.EndsAt"/>.</summary>
    Silence,
}

/// <summary>An acknowledgement or silence asked through the API or CLI, stored for the leader's notifier to apply.</summary>
/// <param name="Seq">Position in the store (0 before it is stored).</param>
/// <param name="Id">UUIDv7.</param>
/// <param name="Type">What it asks.</param>
/// <param name="CheckName">The check.</param>
/// <param name="CreatedAt">When it was asked (UTC).</param>
/// <param name="Target">For an acknowledgement, the incident it is for (null: whatever problem is current).</param>
/// <param name="EndsAt">For a silence, when it ends (UTC).</param>
/// <param name="Author">Who asked (a user name, or <c>cli</c>), or null.</param>
/// <param name="Comment">Why, or null.</param>
public sealed record AlertCommand(
    long Seq, Guid Id, AlertCommandType Type, string CheckName, DateTimeOffset CreatedAt, Guid? Target, DateTimeOffset? EndsAt, string? Author, string? Comment);

/// <summary>The delivery state of a stored notification.</summary>
public enum DeliveryStatus
{
    /// <summary><c>pending</c>: not delivered yet (first try or retry due at <see cref="StoredNotification.NextAttemptAt"/>).</summary>
    Pending,
    /// <summary><c>delivered</c>: the channel accepted it.</summary>
    Delivered,
    /// <summary><c>failed</c>: given up (too old, or refused too often); logged.</summary>
    Failed,
}

/// <summary>A notification in the outbox with its delivery state.</summary>
/// <param name="Seq">Position (per store; a channel delivers in this order).</param>
/// <param name="Notification">The notification.</param>
/// <param name="CreatedAt">When it was stored (UTC).</param>
/// <param name="Status">Delivery state.</param>
/// <param name="Attempts">Delivery attempts so far.</param>
/// <param name="NextAttemptAt">When the next attempt is due (UTC).</param>
/// <param name="LastError">The latest failure's reason (no secrets), or null.</param>
/// <param name="DeliveredAt">When it was delivered (UTC), or null.</param>
public sealed record StoredNotification(
    long Seq, Notification Notification, DateTimeOffset CreatedAt, DeliveryStatus Status, int Attempts, DateTimeOffset NextAttemptAt, string? LastError,
    DateTimeOffset? DeliveredAt);

/// <summary>The outcome of one delivery attempt.</summary>
/// <param name="Seq">The notification's position.</param>
/// <param name="Status">The new state (<see cref="DeliveryStatus.Pending"/> to retry).</param>
/// <param name="Attempts">Attempts counted so far, this one included.</param>
/// <param name="NextAttemptAt">When to retry (pending only).</param>
/// <param name="Error">The failure's reason, or null.</param>
/// <param name="At">When the attempt ended (UTC).</param>
public sealed record DeliveryOutcome(long Seq, DeliveryStatus Status, int Attempts, DateTimeOffset NextAttemptAt, string? Error, DateTimeOffset At);

/// <summary>A filter on stored notifications (all optional).</summary>
/// <param name="CheckName">Only this check's.</param>
/// <param name="Channel">Only this channel's.</param>
/// <param name="Status">Only in this state.</param>
/// <param name="BeforeSeq">Only older than this position (paging, newest first).</param>
/// <param name="Limit">Most rows (1–1000).</param>
public sealed record NotificationQuery(string? CheckName = null, string? Channel = null, DeliveryStatus? Status = null, long? BeforeSeq = null, int Limit = 100);

/// <summary>Counts of stored notifications per channel and state.</summary>
/// <param name="Channel">The channel.</param>
/// <param name="Pending">Not delivered yet.</param>
/// <param name="Delivered">Delivered.</param>
/// <param name="Failed">Given up.</param>
/// <param name="OldestPendingAt">Creation time of the oldest pending one (UTC), or null.</param>
/// <param name="LastError">The latest error of a pending one, or null.</param>
public sealed record ChannelDeliveryStats(string Channel, long Pending, long Delivered, long Failed, DateTimeOffset? OldestPendingAt, string? LastError);

/// <summary>
/// Where alerting keeps its state: the local SQLite outbox for a single agent, the central PostgreSQL when several agents
/// share one (then only the leader reads events and delivers). Every write is atomic; <see cref="CommitAsync"/> stores a
/// notification at most once per idempotency key.
/// </summary>
public interface IAlertStore
{
    /// <summary>Events not yet processed, oldest first.</summary>
    Task<IReadOnlyList<StoredEvent>> ReadPendingEventsAsync(int limit, CancellationToken cancellationToken);

    /// <summary>Every check's <see cref="AlertRecord"/>.</summary>
    Task<IReadOnlyList<AlertRecord>> ReadRecordsAsync(CancellationToken cancellationToken);

    /// <summary>Commands (acknowledgements, silences) not yet processed, oldest first.</summary>
    Task<IReadOnlyList<AlertCommand>> ReadPendingCommandsAsync(int limit, CancellationToken cancellationToken);

    /// <summary>Silences not ended at <paramref name="now"/>.</summary>
    Task<IReadOnlyList<Silence>> ReadSilencesAsync(DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// In one transaction: marks <paramref name="events"/> and <paramref name="commands"/> (by seq) processed, saves
    /// <paramref name="records"/>, and stores <paramref name="notifications"/> as pending (one whose idempotency key is
    /// stored already is skipped).
    /// </summary>
    Task CommitAsync(
        IReadOnlyList<long> events, IReadOnlyList<long> commands, IReadOnlyCollection<AlertRecord> records, IReadOnlyList<Notification> notifications,
        DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// The oldest pending notifications of <paramref name="channel"/>, up to <paramref name="limit"/> and stopping at the
    /// first one not due at <paramref name="now"/> or leased by someone else (so a channel delivers in order), leased until
    /// <paramref name="leaseUntil"/>: nobody else gets them before that unless their outcome is recorded.
    /// </summary>
    Task<IReadOnlyList<StoredNotification>> LeaseDueAsync(string channel, DateTimeOffset now, DateTimeOffset leaseUntil, int limit, CancellationToken cancellationToken);

    /// <summary>Records delivery outcomes (and ends their leases).</summary>
    Task RecordAsync(IReadOnlyList<DeliveryOutcome> outcomes, CancellationToken cancellationToken);

    /// <summary>Stores a command for the leader's notifier.</summary>
    Task AddCommandAsync(AlertCommand command, CancellationToken cancellationToken);

    /// <summary>Ends silence <paramref name="id"/> at <paramref name="now"/>; false when there is no such active silence.</summary>
    Task<bool> EndSilenceAsync(Guid id, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Stored notifications, newest first.</summary>
    Task<IReadOnlyList<StoredNotification>> ReadNotificationsAsync(NotificationQuery query, CancellationToken cancellationToken);

    /// <summary>Per-channel counts.</summary>
    Task<IReadOnlyList<ChannelDeliveryStats>> ReadChannelStatsAsync(CancellationToken cancellationToken);

    /// <summary>Deletes delivered and failed notifications, processed events and commands, and ended silences older than <paramref name="cutoff"/>; the count deleted.</summary>
    Task<int> PurgeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);
}
