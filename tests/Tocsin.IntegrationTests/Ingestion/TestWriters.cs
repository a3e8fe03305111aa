using Tocsin.Ingestion;

namespace Tocsin.IntegrationTests.Ingestion;

/// <summary>A writer whose database refuses every commit (nothing is stored).</summary>
public sealed class FailingWriter : IIngestionWriter
{
    public Task<IReadOnlyList<StoredRow>> SubmitAsync(RowKind kind, IngestionBatch batch, CancellationToken cancellationToken) =>
        throw new IngestionStoreException("the database refused the commit (test)");
}

/// <summary>
/// Commits through the real store, but each upload first waits for the test to <see cref="Open"/> the gate once for it:
/// uploads stay "awaiting commit" as long as the test wants. Counts what arrived and the most awaiting at once.
/// </summary>
public sealed class GatedWriter(IIngestionStore store) : IIngestionWriter, IDisposable
{
    private readonly SemaphoreSlim _gate = new(0);
    private readonly DirectIngestionWriter _inner = new(store);
    private int _pending;
    private int _maxPending;
    private int _arrived;

    public int Arrived => Volatile.Read(ref _arrived);

    public int MaxPending => Volatile.Read(ref _maxPending);

    /// <summary>Lets <paramref name="uploads"/> waiting (or future) uploads commit.</summary>
    public void Open(int uploads = 1) => _gate.Release(uploads);

    public async Task<IReadOnlyList<StoredRow>> SubmitAsync(RowKind kind, IngestionBatch batch, CancellationToken cancellationToken)
    {
        int pending = Interlocked.Increment(ref _pending);
        int seen;
        while (pending > (seen = Volatile.Read(ref _maxPending)) && Interlocked.CompareExchange(ref _maxPending, pending, seen) != seen)
        {
        }

        Interlocked.Increment(ref _arrived);
        try
        {
            await _gate.WaitAsync(cancellationToken);
            return await _inner.SubmitAsync(kind, batch, CancellationToken.None);
        }
        finally
        {
            Interlocked.Decrement(ref _pending);
        }
    }

    public void Dispose() => _gate.Dispose();
}
