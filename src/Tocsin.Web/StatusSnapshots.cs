using System.IO.Compression;
using System.Text.Json;
using Tocsin.Checks;
using Tocsin.Status;

namespace Tocsin.Web;

/// <summary>
/// The states of every check of one catalog snapshot, read once and shared by the requests of the next
/// <see cref="StatusSnapshots.MaxAge"/>: <c>GET /api/v1/checks</c> (whose JSON is serialized once, plain and gzipped),
/// <c>GET /api/v1/checks/{name}</c>, the dashboard's overview and the public status page.
/// </summary>
public sealed class StatusSnapshot
{
    private readonly Dictionary<string, int> _index;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, object> _memo = new(StringComparer.Ordinal);
    private readonly Lazy<byte[]> _json;
    private readonly Lazy<byte[]> _gzip;

    internal StatusSnapshot(long sequence, CheckCatalogSnapshot catalog, StatusReading reading, DateTimeOffset readAt, JsonSerializerOptions json)
    {
        Sequence = sequence;
        Catalog = catalog;
        Reading = reading;
        ReadAt = readAt;
        _index = new Dictionary<string, int>(catalog.Checks.Count, StringComparer.Ordinal);
        for (int i = 0; i < catalog.Checks.Count; i++)
        {
            _index.TryAdd(catalog.Checks[i].Name, i);
        }

        _json = new Lazy<byte[]>(() => JsonSerializer.SerializeToUtf8Bytes(reading.Checks, json));
        _gzip = new Lazy<byte[]>(() =>
        {
            using var buffer = new MemoryStream();
            using (var zip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
            {
                zip.Write(_json.Value);
            }

            return buffer.ToArray();
        });
    }

    /// <summary>Increases by one with every snapshot read; the <c>ETag</c> of the API's list is made from it.</summary>
    public long Sequence { get; }

    /// <summary>The checks whose states were read, in catalog order.</summary>
    public CheckCatalogSnapshot Catalog { get; }

    /// <summary>The states, one per check of <see cref="Catalog"/> in the same order, and where they came from.</summary>
    public StatusReading Reading { get; }

    /// <summary>When the states were read.</summary>
    public DateTimeOffset ReadAt { get; }

    /// <summary>The <c>ETag</c> of the API's list (a strong tag: same bytes for the same tag).</summary>
    public string ETag => $"\"s{Sequence}\"";

    /// <summary>The state of the check named <paramref name="name"/>, or null when the snapshot has no such check.</summary>
    public CheckStatusView? Find(string name) => _index.TryGetValue(name, out int i) ? Reading.Checks[i] : null;

    /// <summary>The API's JSON array of every check's state (UTF-8), serialized on first use.</summary>
    public byte[] Json => _json.Value;

    /// <summary><see cref="Json"/> gzipped, compressed on first use.</summary>
    public byte[] Gzip => _gzip.Value;

    /// <summary>
    /// What <paramref name="make"/> computes from this snapshot, computed once per <paramref name="key"/> and kept as long
    /// as the snapshot (about a second): derived views (the overview's order and counts, sparkline points) shared by the
    /// requests of that second. <paramref name="make"/> may run more than once when called concurrently.
    /// </summary>
    public T Memo<T>(string key, Func<StatusSnapshot, T> make)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(make);
        return (T)_memo.GetOrAdd(key, static (_, arg) => arg.make(arg.self), (make, self: this));
    }
}

/// <summary>
/// Reads the states of every check at most once per <see cref="MaxAge"/> (and again at once when the catalog changes),
/// one read at a time: concurrent requests share the read in progress, and while a fresh one is read the previous
/// snapshot is answered (up to <see cref="StaleLimit"/>). With 10,000 checks a read costs about 100 ms of SQLite and
/// allocation (bench/web), which every request paid before.
/// </summary>
public sealed class StatusSnapshots
{
    private readonly CheckCatalog _catalog;
    private readonly CheckStatusReader _reader;
    private readonly TimeProvider _time;
    private readonly JsonSerializerOptions _json;
    private readonly Lock _lock = new();
    private StatusSnapshot? _current;
    private Task<StatusSnapshot>? _reading;
    private long _sequence;

    /// <summary>Creates the cache over <paramref name="reader"/>; <paramref name="json"/> are the API's serializer options.</summary>
    public StatusSnapshots(CheckCatalog catalog, CheckStatusReader reader, TimeProvider time, JsonSerializerOptions json)
    {
        _catalog = catalog;
        _reader = reader;
        _time = time;
        _json = json;
    }

    /// <summary>The reader the snapshots come from (for what they do not hold: results, a check newer than the snapshot).</summary>
    public CheckStatusReader Reader => _reader;

    /// <summary>
    /// The state of <paramref name="check"/> as a one-check reading: from the current snapshot, or read alone when the
    /// check is newer than it (a promise that just appeared).
    /// </summary>
    /// <exception cref="Microsoft.Data.Sqlite.SqliteException">When the outbox is needed and cannot be read.</exception>
    public async Task<StatusReading> ReadOneAsync(CheckDefinition check, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(check);
        var snapshot = await GetAsync(cancellationToken).ConfigureAwait(false);
        return snapshot.Find(check.Name) is { } known
            ? new StatusReading([known], snapshot.Reading.Source, snapshot.Reading.FallbackReason)
            : await _reader.ReadChecksAsync([check], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>How long a snapshot is served before the states are read again. <value>Default: 1 s.</value></summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How old a snapshot may be and still be answered at once while a new one is read in the background (so no request
    /// waits for the read, ~100 ms with 10,000 checks). Past it, or after a catalog change, callers wait for the new
    /// read. <value>Default: 5 s.</value>
    /// </summary>
    public TimeSpan StaleLimit { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The read in progress, or null (for tests).</summary>
    internal Task<StatusSnapshot>? Pending
    {
        get
        {
            lock (_lock)
            {
                return _reading;
            }
        }
    }

    /// <summary>
    /// A snapshot of the current catalog at most <see cref="MaxAge"/> old; or, while a new one is being read, the previous
    /// one if it is less than <see cref="StaleLimit"/> old.
    /// </summary>
    /// <exception cref="Microsoft.Data.Sqlite.SqliteException">When the outbox is needed and cannot be read.</exception>
    public Task<StatusSnapshot> GetAsync(CancellationToken cancellationToken)
    {
        var catalog = _catalog.Current;
        lock (_lock)
        {
            if (_current is { } s && ReferenceEquals(s.Catalog, catalog))
            {
                var age = _time.GetUtcNow() - s.ReadAt;
                if (age < MaxAge)
                {
                    return Task.FromResult(s);
                }

                if (age < StaleLimit)
                {
                    if (_reading is null || _reading.IsCompleted)
                    {
                        _reading = Task.Run(() => ReadAsync(catalog), CancellationToken.None);
                    }

                    return Task.FromResult(s);
                }
            }

            // One read at a time, off the caller's thread; a caller that gives up (its token) leaves the shared read
            // running for the others. A failed read fails its waiters, and the next call reads again.
            if (_reading is null || _reading.IsCompleted)
            {
                _reading = Task.Run(() => ReadAsync(catalog), CancellationToken.None);
            }

            return _reading.WaitAsync(cancellationToken);
        }
    }

    private async Task<StatusSnapshot> ReadAsync(CheckCatalogSnapshot catalog)
    {
        var reading = await _reader.ReadChecksAsync(catalog.Checks, CancellationToken.None).ConfigureAwait(false);
        var snapshot = new StatusSnapshot(Interlocked.Increment(ref _sequence), catalog, reading, _time.GetUtcNow(), _json);
        lock (_lock)
        {
            _current = snapshot;
        }

        return snapshot;
    }
}
