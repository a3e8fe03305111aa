namespace Tocsin.Ingestion;

/// <summary>
/// Takes uploads and answers when they are committed: the acknowledgement point of <c>/ws</c> and the HTTP uploads
/// (<c>success:true</c> is sent only after <see cref="SubmitAsync"/> returns). The running server's writer batches the
/// uploads of every connection into few transactions; <see cref="DirectIngestionWriter"/> commits each alone.
/// </summary>
public interface IIngestionWriter
{
    /// <summary>
    /// Commits <paramref name="batch"/> (with other connections' uploads, in one transaction) and returns the stored rows, in
    /// the batch's order, with their ids.
    /// </summary>
    /// <exception cref="IngestionStoreException">When the rows were not committed: none of them is stored.</exception>
    /// <exception cref="OperationCanceledException">When <paramref name="cancellationToken"/> is cancelled before the rows
    /// were handed to the database (once handed over, the commit is awaited whatever the token).</exception>
    Task<IReadOnlyList<StoredRow>> SubmitAsync(RowKind kind, IngestionBatch batch, CancellationToken cancellationToken);
}

/// <summary>An <see cref="IIngestionWriter"/> that commits each upload in its own transaction: for tools and tests.</summary>
/// <param name="store">Where the rows go.</param>
public sealed class DirectIngestionWriter(IIngestionStore store) : IIngestionWriter
{
    /// <inheritdoc />
    public async Task<IReadOnlyList<StoredRow>> SubmitAsync(RowKind kind, IngestionBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var ids = await store.AppendAsync(kind, [batch], cancellationToken).ConfigureAwait(false);
        return Stored(batch, ids[0]);
    }

    /// <summary>
    /// The rows of <paramref name="batch"/> as stored with <paramref name="ids"/> (same order, same count). Each
    /// <see cref="StoredRow"/> is made when read: a log upload is answered with its count only, so its rows are never built.
    /// </summary>
    /// <exception cref="ArgumentException">When <paramref name="ids"/> has not one id per row.</exception>
    public static IReadOnlyList<StoredRow> Stored(IngestionBatch batch, IReadOnlyList<long> ids)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count != batch.Rows.Count)
        {
            throw new ArgumentException($"{ids.Count} id(s) for {batch.Rows.Count} row(s)", nameof(ids));
        }

        return new StoredRows(batch, ids);
    }

    private sealed class StoredRows(IngestionBatch batch, IReadOnlyList<long> ids) : IReadOnlyList<StoredRow>
    {
        public int Count => ids.Count;

        public StoredRow this[int index]
        {
            get
            {
                ArgumentOutOfRangeException.ThrowIfNegative(index);
                ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, ids.Count);
                var r = batch.Rows[index];
                return new StoredRow(ids[index], batch.Identity, r.Sender, r.Message, r.Level, r.Time);
            }
        }

        public IEnumerator<StoredRow> GetEnumerator()
        {
            for (int i = 0; i < ids.Count; i++)
            {
                yield return this[i];
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
