namespace Tocsin.Storage.Sqlite;

/// <summary>
/// One outbox row as read for export, pointing into SQLite's own buffers: text as UTF-8 bytes, times in Unix
/// epoch ms (UTC). Valid only during the <see cref="OutboxRowVisitor"/> call that receives it.
/// </summary>
public readonly ref struct OutboxRowView
{
    /// <summary>The result's UUIDv7 id.</summary>
    public required Guid Id { get; init; }

    /// <summary>Check name, UTF-8.</summary>
    public required ReadOnlySpan<byte> CheckName { get; init; }

    /// <summary>Check kind, UTF-8.</summary>
    public required ReadOnlySpan<byte> Kind { get; init; }

    /// <summary>State as its Nagios code (0 OK … 3 UNKNOWN).</summary>
    public required short State { get; init; }

    /// <summary>Scheduled start, Unix ms.</summary>
    public required long ScheduledAtMs { get; init; }

    /// <summary>Start, Unix ms (the time the id was made from).</summary>
    public required long StartedAtMs { get; init; }

    /// <summary>End, Unix ms.</summary>
    public required long FinishedAtMs { get; init; }

    /// <summary>Duration in ms.</summary>
    public required double DurationMs { get; init; }

    /// <summary>HTTP status code, or null.</summary>
    public required int? StatusCode { get; init; }

    /// <summary>The result's message, UTF-8.</summary>
    public required ReadOnlySpan<byte> Message { get; init; }

    /// <summary>Details as a JSON object's text, UTF-8; empty when <see cref="HasDetails"/> is false.</summary>
    public required ReadOnlySpan<byte> Details { get; init; }

    /// <summary>Whether the result has details (the column is not NULL).</summary>
    public required bool HasDetails { get; init; }
}

/// <summary>Receives each row of <see cref="SqliteOutbox.ReadForExport"/>; the view is valid only during the call.</summary>
/// <param name="row">The row.</param>
public delegate void OutboxRowVisitor(in OutboxRowView row);

/// <summary>
/// Ids of outbox results as their 36-byte UTF-8 text (as stored), in one growing buffer: what an export batch
/// must mark, without an object per id. Reused from batch to batch.
/// </summary>
public sealed class OutboxIdList
{
    /// <summary>Bytes of one id's text (<c>xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx</c>).</summary>
    public const int IdLength = 36;

    private byte[] _bytes = new byte[IdLength * 1024];

    /// <summary>How many ids it holds.</summary>
    public int Count { get; private set; }

    /// <summary>The text of id <paramref name="index"/> (0-based).</summary>
    /// <exception cref="ArgumentOutOfRangeException">When <paramref name="index"/> is not below <see cref="Count"/>.</exception>
    public ReadOnlySpan<byte> this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
            return _bytes.AsSpan(index * IdLength, IdLength);
        }
    }

    /// <summary>The text of id <paramref name="index"/> as a string.</summary>
    public string TextAt(int index) => System.Text.Encoding.ASCII.GetString(this[index]);

    /// <summary>Adds an id's text.</summary>
    /// <exception cref="ArgumentException">When <paramref name="id"/> is not 36 bytes long.</exception>
    public void Add(ReadOnlySpan<byte> id)
    {
        if (id.Length != IdLength)
        {
            throw new ArgumentException($"an outbox id is {IdLength} bytes of text, not {id.Length}", nameof(id));
        }

        if ((Count + 1) * IdLength > _bytes.Length)
        {
            Array.Resize(ref _bytes, _bytes.Length * 4);
        }

        id.CopyTo(_bytes.AsSpan(Count * IdLength));
        Count++;
    }

    /// <summary>Adds an id, as its text.</summary>
    public void Add(Guid id)
    {
        Span<byte> text = stackalloc byte[IdLength];
        System.Buffers.Text.Utf8Formatter.TryFormat(id, text, out _, 'D');
        Add(text);
    }

    /// <summary>Empties the list (keeps its buffer).</summary>
    public void Clear() => Count = 0;
}

/// <summary>
/// What one <see cref="SqliteOutbox.ReadForExport"/> read: how many rows from each end and the id bounds a
/// later read, made while this batch is still in flight, continues after and skips.
/// </summary>
/// <param name="OldestCount">Rows read from the oldest end (they came first).</param>
/// <param name="NewestCount">Rows read from the newest end (after them, newest first); 0 when no backlog waits.</param>
/// <param name="OldestHigh">Highest id of the oldest rows, or null when none.</param>
/// <param name="NewestLow">Lowest id of the newest rows, or null when none.</param>
/// <param name="NewestHigh">Highest id of the newest rows, or null when none.</param>
public sealed record ExportRead(int OldestCount, int NewestCount, string? OldestHigh, string? NewestLow, string? NewestHigh)
{
    /// <summary>Rows in both slices.</summary>
    public int Count => OldestCount + NewestCount;
}
