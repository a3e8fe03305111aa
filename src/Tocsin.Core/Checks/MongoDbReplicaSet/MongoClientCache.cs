using MongoDB.Driver;

namespace Tocsin.Checks.MongoDbReplicaSet;

/// <summary>
/// Long-lived <see cref="MongoClient"/>s (each holds connection pools and monitors its servers), one per key (connection
/// string and timeouts), at most <see cref="Capacity"/> of them: past that, the least recently used client that no run is
/// using is disposed. A client in use is never disposed; while every client is in use the cache may briefly hold more.
/// </summary>
internal sealed class MongoClientCache(int capacity) : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private long _clock;
    private bool _disposed;

    /// <summary>The most clients kept.</summary>
    public int Capacity { get; } = capacity;

    /// <summary>Clients held now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>The client for <paramref name="key"/>, made by <paramref name="create"/> when there is none; dispose the lease when the run ends.</summary>
    /// <exception cref="ObjectDisposedException">When the cache was disposed.</exception>
    public Lease Rent(string key, Func<MongoClient> create)
    {
        var evicted = new List<MongoClient>();
        Entry entry;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_entries.TryGetValue(key, out entry!))
            {
                entry = new Entry(create());
                _entries[key] = entry;
            }

            entry.InUse++;
            entry.LastUsed = ++_clock;
            while (_entries.Count > Capacity)
            {
                var victim = _entries.Where(e => e.Value.InUse == 0).MinBy(e => e.Value.LastUsed);
                if (victim.Value is null)
                {
                    break;
                }

                _entries.Remove(victim.Key);
                evicted.Add(victim.Value.Client);
            }
        }

        foreach (var client in evicted)
        {
            client.Dispose();
        }

        return new Lease(this, entry);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        List<Entry> entries;
        lock (_lock)
        {
            _disposed = true;
            entries = [.. _entries.Values];
            _entries.Clear();
        }

        foreach (var e in entries)
        {
            e.Client.Dispose();
        }
    }

    private void Return(Entry entry)
    {
        lock (_lock)
        {
            entry.InUse--;
        }
    }

    internal sealed class Entry(MongoClient client)
    {
        public MongoClient Client { get; } = client;

        public int InUse { get; set; }

        public long LastUsed { get; set; }
    }

    /// <summary>A client rented for one run.</summary>
    public readonly struct Lease : IDisposable
    {
        private readonly MongoClientCache _cache;
        private readonly Entry _entry;

        internal Lease(MongoClientCache cache, Entry entry)
        {
            _cache = cache;
            _entry = entry;
        }

        /// <summary>The client.</summary>
        public MongoClient Client => _entry.Client;

        /// <inheritdoc />
        public void Dispose() => _cache.Return(_entry);
    }
}
