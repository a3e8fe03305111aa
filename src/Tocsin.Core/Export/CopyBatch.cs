using System.Buffers.Binary;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Export;

/// <summary>
/// One export batch encoded as PostgreSQL binary COPY data (header, tuples, trailer) for the columns of
/// <c>tocsin.results</c> (as <c>PostgresSchema.CopyResults</c> lists them), written straight from the outbox's
/// UTF-8 views; beside it the same rows without their details (<see cref="StagingData"/>), and the ids to mark
/// and the UTC days the rows start on (for the partitions). Reused from batch to batch: no object per row.
/// </summary>
internal sealed class CopyBatch
{
    private static ReadOnlySpan<byte> Signature => [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0];

    /// <summary>2000-01-01T00:00:00Z, PostgreSQL's epoch, in Unix ms.</summary>
    private const long PostgresEpochUnixMs = 946_684_800_000;

    private const long DayMs = 86_400_000;

    private readonly byte[] _agentId = new byte[16];
    private readonly HashSet<int> _days = [];
    // Large arrays live on the large-object heap, whose garbage costs full collections: grow them in few steps (×4).
    private byte[] _buffer = new byte[1 << 20];
    private int _length;
    private byte[] _staging = new byte[1 << 20];
    private int _stagingLength;
    private int _lastDay = int.MinValue;

    /// <summary>Ids of the rows in the batch, in order.</summary>
    public OutboxIdList Ids { get; } = new();

    /// <summary>What the read that filled the batch found (counts per end, id bounds); null before the first fill.</summary>
    public ExportRead? Read { get; private set; }

    /// <summary>Rows in the batch.</summary>
    public int Rows => Read?.Count ?? 0;

    /// <summary>The COPY data: header, one tuple per row, trailer.</summary>
    public ReadOnlyMemory<byte> Data => _buffer.AsMemory(0, _length);

    /// <summary>The same rows with <c>details</c> NULL, for the staging table the statements after the insert read.</summary>
    public ReadOnlyMemory<byte> StagingData => _staging.AsMemory(0, _stagingLength);

    /// <summary>The UTC days the rows start on.</summary>
    public IEnumerable<DateOnly> Days => _days.Select(d => DateOnly.FromDayNumber(DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber + d));

    /// <summary>Fills the batch from one outbox read (see <see cref="SqliteOutbox.ReadForExport"/>) for agent <paramref name="agentId"/>.</summary>
    /// <exception cref="Microsoft.Data.Sqlite.SqliteException">When the read fails.</exception>
    public void Fill(SqliteOutbox outbox, Guid agentId, int oldest, int newest, ExportRead? inFlight)
    {
        agentId.TryWriteBytes(_agentId, bigEndian: true, out _);
        _length = 0;
        _days.Clear();
        _lastDay = int.MinValue;
        Read = null;
        Put(Signature);
        PutInt32(0); // flags
        PutInt32(0); // header extension length
        _stagingLength = 0;
        PutStaging(_buffer.AsSpan(0, _length));
        Read = outbox.ReadForExport(oldest, newest, inFlight, Ids, Add);
        PutInt16(-1);
        PutStaging(_buffer.AsSpan(_length - 2, 2));
    }

    private void Add(in OutboxRowView r)
    {
        int rowStart = _length;
        Ensure(2 + (12 * 4) + 16 + 16 + 2 + 24 + 8 + 4 + 1 + r.CheckName.Length + r.Kind.Length + r.Message.Length + r.Details.Length);
        PutInt16(12);
        PutInt32(16);
        r.Id.TryWriteBytes(_buffer.AsSpan(_length, 16), bigEndian: true, out _);
        _length += 16;
        PutInt32(16);
        Put(_agentId);
        PutText(r.CheckName);
        PutText(r.Kind);
        PutInt32(2);
        PutInt16(r.State);
        PutTime(r.ScheduledAtMs);
        PutTime(r.StartedAtMs);
        PutTime(r.FinishedAtMs);
        PutInt32(8);
        PutInt64(BitConverter.DoubleToInt64Bits(r.DurationMs));
        if (r.StatusCode is { } code)
        {
            PutInt32(4);
            PutInt32(code);
        }
        else
        {
            PutInt32(-1);
        }

        PutText(r.Message);

        // The staging copy: the tuple so far, then details NULL.
        PutStaging(_buffer.AsSpan(rowStart, _length - rowStart));
        PutStaging([0xFF, 0xFF, 0xFF, 0xFF]);
        if (r.HasDetails)
        {
            // jsonb's binary form: a version byte (1), then the JSON text.
            PutInt32(r.Details.Length + 1);
            _buffer[_length++] = 1;
            Put(r.Details);
        }
        else
        {
            PutInt32(-1);
        }

        int day = (int)(Math.DivRem(r.StartedAtMs, DayMs, out long rem) - (rem < 0 ? 1 : 0));
        if (day != _lastDay)
        {
            _lastDay = day;
            _days.Add(day);
        }
    }

    private void Ensure(int more)
    {
        if (_length + more + 2 > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 4, _length + more + 2));
        }
    }

    private void PutStaging(ReadOnlySpan<byte> bytes)
    {
        if (_stagingLength + bytes.Length > _staging.Length)
        {
            Array.Resize(ref _staging, Math.Max(_staging.Length * 4, _stagingLength + bytes.Length));
        }

        bytes.CopyTo(_staging.AsSpan(_stagingLength));
        _stagingLength += bytes.Length;
    }

    private void Put(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    private void PutText(ReadOnlySpan<byte> utf8)
    {
        PutInt32(utf8.Length);
        Put(utf8);
    }

    private void PutTime(long unixMs)
    {
        PutInt32(8);
        PutInt64((unixMs - PostgresEpochUnixMs) * 1000);
    }

    private void PutInt16(short v)
    {
        Ensure(2);
        BinaryPrimitives.WriteInt16BigEndian(_buffer.AsSpan(_length), v);
        _length += 2;
    }

    private void PutInt32(int v)
    {
        Ensure(4);
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_length), v);
        _length += 4;
    }

    private void PutInt64(long v)
    {
        Ensure(8);
        BinaryPrimitives.WriteInt64BigEndian(_buffer.AsSpan(_length), v);
        _length += 8;
    }
}
