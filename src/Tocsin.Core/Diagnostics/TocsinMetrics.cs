using System.Diagnostics.Metrics;

namespace Tocsin.Diagnostics;

/// <summary>
/// The engine's instruments, on the <c>Tocsin</c> meter (System.Diagnostics.Metrics); the web project
/// exports them. Units: durations in milliseconds, counts in runs or results.
/// </summary>
public sealed class TocsinMetrics : IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Tocsin";

    private readonly Meter _meter;

    /// <summary>Creates the instruments, on a meter from <paramref name="meterFactory"/> when given.</summary>
    public TocsinMetrics(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        Runs = _meter.CreateCounter<long>("tocsin.check.runs", "{run}", "Check runs finished, by kind and state.");
        RunsSkipped = _meter.CreateCounter<long>("tocsin.scheduler.skipped", "{run}", "Scheduled runs skipped because the previous run of the check was still going, the agent fell behind, or the agent stopped before a slot freed.");
        ScheduleLag = _meter.CreateHistogram<double>("tocsin.scheduler.lag", "ms", "Delay between a run's scheduled time and its start.");
        RunDuration = _meter.CreateHistogram<double>("tocsin.check.duration", "ms", "Check run duration.");
        ResultsWritten = _meter.CreateCounter<long>("tocsin.results.written", "{result}", "Results committed to the local outbox.");
        WriteFailures = _meter.CreateCounter<long>("tocsin.results.write_failures", "{batch}", "Outbox write attempts that failed and were retried.");
        ExportedRows = _meter.CreateCounter<long>("tocsin.export.rows", "{result}", "Results committed to the central database and marked exported (re-sent rows counted again).");
        ExportFailures = _meter.CreateCounter<long>("tocsin.export.failures", "{attempt}", "Export attempts that failed and will be retried.");
        NotificationsDelivered = _meter.CreateCounter<long>("tocsin.notifications.delivered", "{notification}", "Notifications a channel accepted, by channel and type.");
        NotificationFailures = _meter.CreateCounter<long>("tocsin.notifications.failures", "{attempt}", "Notification delivery attempts that failed, by channel (retried unless given up).");
        NotificationsGivenUp = _meter.CreateCounter<long>("tocsin.notifications.given_up", "{notification}", "Notifications given up after too many refusals or too long, by channel.");
        OutboxDropped = _meter.CreateCounter<long>("tocsin.outbox.dropped", "{result}", "Unexported results deleted because the outbox passed maxOutboxSize: lost for the central database.");
        IngestedRows = _meter.CreateCounter<long>("tocsin.ingest.rows", "{row}", "Uploaded log and notification rows committed (acknowledged), by kind.");
        IngestFailures = _meter.CreateCounter<long>("tocsin.ingest.failures", "{transaction}", "Ingestion transactions that failed: their uploads were answered success:false, nothing stored.");
        IngestBatchRows = _meter.CreateHistogram<long>("tocsin.ingest.transaction_rows", "{row}", "Rows committed per ingestion transaction (uploads of several connections together).");
        IngestPurgedRows = _meter.CreateCounter<long>("tocsin.ingest.purged", "{row}", "Log and notification rows deleted by retention, by kind.");
        IngestPushes = _meter.CreateCounter<long>("tocsin.ingest.pushes", "{row}", "Notification rows pushed to this replica's user sockets (each row once, whatever the number of sockets), by source: local (uploaded here), remote (announced by another replica), caught_up (read after an outage of the listening connection).");
        IngestPushesDropped = _meter.CreateCounter<long>("tocsin.ingest.pushes_dropped", "{batch}", "Batches of notifications not pushed live (still readable with getNotifications), by reason: slow_receiver (a socket's queue was full), remote_queue_full (announcements of other replicas waiting to be read).");
        IngestQueueWait = _meter.CreateHistogram<double>("tocsin.ingest.queue_wait", "ms", "Time an upload waited for a commit loop, from its hand-over to the start of its transaction, by kind.");
        IngestCommitDuration = _meter.CreateHistogram<double>("tocsin.ingest.commit.duration", "ms", "Duration of one ingestion transaction in the store (reserve ids, COPY or INSERT, commit), by kind, failed ones included.");
        IngestAckDuration = _meter.CreateHistogram<double>("tocsin.ingest.ack.duration", "ms", "Server side of an acknowledged upload (WebSocket or HTTP): from the parsed upload handed to the writer (after any rate-limit wait) to its rows committed (and, for notifications, announced), when the success answer is made, by kind.");
    }

    /// <summary>Notification rows pushed live (tag: source = local | remote | caught_up).</summary>
    public Counter<long> IngestPushes { get; }

    /// <summary>Batches of notifications not pushed live (tag: reason = slow_receiver | remote_queue_full).</summary>
    public Counter<long> IngestPushesDropped { get; }

    /// <summary>Queue wait of an upload in ms, hand-over to transaction start (tag: kind).</summary>
    public Histogram<double> IngestQueueWait { get; }

    /// <summary>Duration of one ingestion transaction in ms (tag: kind).</summary>
    public Histogram<double> IngestCommitDuration { get; }

    /// <summary>Parsed upload handed to the writer → committed (and announced), successful uploads only, in ms (tag: kind).</summary>
    public Histogram<double> IngestAckDuration { get; }

    /// <summary>Uploaded rows committed (tag: kind = logs | notifications).</summary>
    public Counter<long> IngestedRows { get; }

    /// <summary>Failed ingestion transactions (tag: kind).</summary>
    public Counter<long> IngestFailures { get; }

    /// <summary>Rows per ingestion transaction (tag: kind).</summary>
    public Histogram<long> IngestBatchRows { get; }

    /// <summary>Rows purged by retention (tag: kind).</summary>
    public Counter<long> IngestPurgedRows { get; }

    /// <summary>Check runs finished (tags: kind, state).</summary>
    public Counter<long> Runs { get; }

    /// <summary>Runs skipped (tag: reason = overlap | behind).</summary>
    public Counter<long> RunsSkipped { get; }

    /// <summary>Schedule lag in ms.</summary>
    public Histogram<double> ScheduleLag { get; }

    /// <summary>Run duration in ms (tag: kind).</summary>
    public Histogram<double> RunDuration { get; }

    /// <summary>Results committed to the outbox.</summary>
    public Counter<long> ResultsWritten { get; }

    /// <summary>Failed outbox batch writes.</summary>
    public Counter<long> WriteFailures { get; }

    /// <summary>Results exported (committed centrally and marked locally).</summary>
    public Counter<long> ExportedRows { get; }

    /// <summary>Failed export attempts.</summary>
    public Counter<long> ExportFailures { get; }

    /// <summary>Unexported results dropped by the outbox size limit.</summary>
    public Counter<long> OutboxDropped { get; }

    /// <summary>Notifications a channel accepted (tags: channel, type).</summary>
    public Counter<long> NotificationsDelivered { get; }

    /// <summary>Failed delivery attempts (tag: channel).</summary>
    public Counter<long> NotificationFailures { get; }

    /// <summary>Notifications given up (tag: channel).</summary>
    public Counter<long> NotificationsGivenUp { get; }

    /// <summary>Registers an observable gauge on the meter.</summary>
    public void ObserveGauge(string name, Func<long> read, string unit, string description) =>
        _meter.CreateObservableGauge(name, read, unit, description);

    /// <summary>Registers an observable gauge of a fractional value on the meter.</summary>
    public void ObserveGauge(string name, Func<double> read, string unit, string description) =>
        _meter.CreateObservableGauge(name, read, unit, description);

    /// <inheritdoc />
    public void Dispose() => _meter.Dispose();
}
