namespace Tocsin.MongoEmulator;

/// <summary>Settings of an emulated MongoDB replica set.</summary>
public sealed class MongoEmulatorOptions
{
    /// <summary>How many members to start (1 to 50), each on its own free loopback port. Member 0 starts PRIMARY, the others
    /// SECONDARY. <value>Default: 3.</value></summary>
    public int Members { get; init; } = 3;

    /// <summary>The replica set's name (<c>setName</c>, <c>set</c>). <value>Default: rs0.</value></summary>
    public string SetName { get; init; } = "rs0";

    /// <summary>False for standalone servers ("not a replica set"): <c>hello</c> has no <c>setName</c> and
    /// <c>replSetGetStatus</c> fails with code 76 <c>NoReplicationEnabled</c>. <value>Default: true.</value></summary>
    public bool ReplicationEnabled { get; init; } = true;

    /// <summary>The server version <c>buildInfo</c> reports. <value>Default: 7.0.14.</value></summary>
    public string Version { get; init; } = "7.0.14";

    /// <summary>The <c>maxWireVersion</c> of <c>hello</c> (21 = MongoDB 7.0). <value>Default: 21.</value></summary>
    public int MaxWireVersion { get; init; } = 21;

    /// <summary>The clock of <c>date</c>, <c>optimeDate</c>, <c>lastHeartbeat</c>, <c>localTime</c>. <value>Default: the system clock.</value></summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>
/// An emulated MongoDB replica set for tests and demos: N members on 127.0.0.1, each a TCP listener speaking the MongoDB wire
/// protocol (OP_MSG with kind-0 and kind-1 sections; the legacy OP_QUERY <c>hello</c>/<c>isMaster</c> on <c>admin.$cmd</c>
/// answered with OP_REPLY) so that the real MongoDB driver connects to it. Commands: <c>hello</c>, <c>isMaster</c>/<c>ismaster</c>,
/// <c>buildInfo</c>, <c>ping</c>, <c>replSetGetStatus</c>, <c>endSessions</c>; <c>saslStart</c>/<c>authenticate</c> always fail
/// with code 18 AuthenticationFailed (credentials are not emulated); anything else answers code 59 CommandNotFound.
/// Scriptable: each member's <see cref="MongoMember.State"/>, <see cref="MongoMember.Healthy"/>, <see cref="MongoMember.Lag"/>, going
/// down and back, the <see cref="SetName"/>, and <see cref="ReplicationEnabled"/>. Start with <see cref="StartAsync"/>; dispose to stop.
/// </summary>
public sealed class MongoEmulator : IAsyncDisposable
{
    private readonly List<MongoMember> _members = [];
    private string _setName;
    private bool _replicationEnabled;
    private long _term = 1;
    private long _connectionIds;
    private int _requestIds;

    private MongoEmulator(MongoEmulatorOptions options)
    {
        Time = options.Time;
        Version = options.Version;
        MaxWireVersion = options.MaxWireVersion;
        _setName = options.SetName;
        _replicationEnabled = options.ReplicationEnabled;
    }

    /// <summary>The members, in start order (<c>_id</c> 0, 1, …).</summary>
    public IReadOnlyList<MongoMember> Members => _members;

    /// <summary>The replica set's name; change it to make the set answer with another name.</summary>
    public string SetName
    {
        get
        {
            lock (Sync)
            {
                return _setName;
            }
        }
        set
        {
            ArgumentException.ThrowIfNullOrEmpty(value);
            lock (Sync)
            {
                _setName = value;
            }
        }
    }

    /// <summary>Whether the members form a replica set; false makes them standalone servers (see <see cref="MongoEmulatorOptions.ReplicationEnabled"/>).</summary>
    public bool ReplicationEnabled
    {
        get
        {
            lock (Sync)
            {
                return _replicationEnabled;
            }
        }
        set
        {
            lock (Sync)
            {
                _replicationEnabled = value;
            }
        }
    }

    /// <summary>
    /// A connection string naming every member: <c>mongodb://127.0.0.1:P0,127.0.0.1:P1,…/?replicaSet=rs0</c> (without
    /// <c>replicaSet</c> when replication is off).
    /// </summary>
    public string ConnectionString => $"mongodb://{string.Join(",", _members.Select(m => m.Host))}/{(ReplicationEnabled ? $"?replicaSet={Uri.EscapeDataString(SetName)}" : "")}";

    /// <summary>The server version <c>buildInfo</c> reports.</summary>
    public string Version { get; }

    /// <summary>The <c>maxWireVersion</c> of <c>hello</c>.</summary>
    public int MaxWireVersion { get; }

    /// <summary>Frames refused by all members (each closed its connection).</summary>
    public int RejectedFrames => _members.Sum(m => m.RejectedFrames);

    internal TimeProvider Time { get; }

    internal Lock Sync { get; } = new();

    /// <summary>How many times the members received command <paramref name="name"/>.</summary>
    public int CommandCount(string name) => _members.Sum(m => m.CommandCount(name));

    /// <summary>Sets every member's state at once, in member order (e.g. <c>Secondary, Secondary, Secondary</c> for "no primary").</summary>
    /// <exception cref="ArgumentException">When the count differs from the number of members.</exception>
    public void SetStates(params IReadOnlyList<MongoMemberState> states)
    {
        ArgumentNullException.ThrowIfNull(states);
        if (states.Count != _members.Count)
        {
            throw new ArgumentException($"{states.Count} states for {_members.Count} members", nameof(states));
        }

        for (int i = 0; i < states.Count; i++)
        {
            _members[i].State = states[i];
        }
    }

    /// <summary>Starts the members on free loopback ports.</summary>
    /// <exception cref="ArgumentOutOfRangeException">When <see cref="MongoEmulatorOptions.Members"/> is not from 1 to 50.</exception>
    /// <exception cref="ArgumentException">When the set name is empty.</exception>
    public static async Task<MongoEmulator> StartAsync(MongoEmulatorOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new MongoEmulatorOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Members, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Members, 50);
        ArgumentException.ThrowIfNullOrEmpty(options.SetName);
        var emulator = new MongoEmulator(options);
        try
        {
            for (int i = 0; i < options.Members; i++)
            {
                var member = new MongoMember(emulator, i, i == 0 ? MongoMemberState.Primary : MongoMemberState.Secondary);
                emulator._members.Add(member);
                await member.StartAsync(0, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            await emulator.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return emulator;
    }

    internal long NextTerm() => Interlocked.Increment(ref _term);

    internal long CurrentTerm => Interlocked.Read(ref _term);

    internal long NextConnectionId() => Interlocked.Increment(ref _connectionIds);

    internal int NextRequestId() => Interlocked.Increment(ref _requestIds);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var member in _members)
        {
            await member.DisposeAsync().ConfigureAwait(false);
        }
    }
}
