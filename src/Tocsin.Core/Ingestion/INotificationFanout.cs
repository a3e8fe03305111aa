namespace Tocsin.Ingestion;

/// <summary>
/// Live delivery of uploaded notifications to the open <see cref="IngestionRole.User"/> sockets of the same identity — on
/// this replica directly, and on every other replica sharing the PostgreSQL through <c>LISTEN/NOTIFY</c> (seed 002 needed a
/// separate ZMQ relay for that). Thread-safe.
/// </summary>
public interface INotificationFanout : IAsyncDisposable
{
    /// <summary>
    /// Registers a local receiver of <paramref name="identity"/>'s new notifications until the returned handle is disposed.
    /// <paramref name="deliver"/> is called with each committed batch, newest first, never concurrently for one receiver; a
    /// receiver that throws or is slower than its bounded queue loses that batch (logged), not the others.
    /// </summary>
    IDisposable Subscribe(string identity, Func<IReadOnlyList<StoredRow>, CancellationToken, ValueTask> deliver);

    /// <summary>
    /// Announces rows just committed: delivered to local receivers at once, and to other replicas' receivers (which read the
    /// rows by id). Never throws for a delivery problem.
    /// </summary>
    ValueTask PublishAsync(string identity, IReadOnlyList<StoredRow> rows, CancellationToken cancellationToken);
}
