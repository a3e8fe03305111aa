using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Tocsin.MongoEmulator;

/// <summary>
/// One emulated replica-set member (a <c>mongod</c>): a TCP listener on 127.0.0.1 speaking the wire protocol, with a scriptable
/// <see cref="State"/>, <see cref="Healthy"/> flag and replication <see cref="Lag"/>. It can go down (<see cref="GoDownAsync"/>:
/// the listener and every open connection are closed, new connections refused) and come back on the same port
/// (<see cref="ComeBackAsync"/>). A frame it cannot read closes that connection only (<see cref="RejectedFrames"/>).
/// </summary>
public sealed class MongoMember : IAsyncDisposable
{
    private readonly MongoEmulator _emulator;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ConcurrentDictionary<long, TcpClient> _connections = new();
    private readonly ConcurrentDictionary<string, int> _commands = new(StringComparer.Ordinal);
    private TcpListener? _listener;
    private CancellationTokenSource? _stop;
    private Task _acceptLoop = Task.CompletedTask;
    private MongoMemberState _state;
    private bool _healthy = true;
    private TimeSpan _lag;
    private long _electedTerm;
    private int _rejectedFrames;
    private DateTimeOffset _upSince;

    internal MongoMember(MongoEmulator emulator, int index, MongoMemberState state)
    {
        _emulator = emulator;
        Index = index;
        _state = state;
        _electedTerm = state == MongoMemberState.Primary ? emulator.CurrentTerm : 0;
        _upSince = emulator.Time.GetUtcNow();
    }

    /// <summary>Position in the set, from 0; its <c>_id</c> in <c>replSetGetStatus</c>.</summary>
    public int Index { get; }

    /// <summary>The loopback port it listens on (the same after coming back).</summary>
    public int Port { get; private set; }

    /// <summary><c>127.0.0.1:PORT</c>: its name in <c>hosts</c>, <c>me</c> and <c>replSetGetStatus</c>.</summary>
    public string Host => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{Port}");

    /// <summary>Whether it is down (not listening).</summary>
    public bool IsDown => Volatile.Read(ref _listener) is null;

    /// <summary>
    /// Its state: what its <c>hello</c> says (<c>isWritablePrimary</c> for PRIMARY, <c>secondary</c> for SECONDARY,
    /// <c>arbiterOnly</c> for ARBITER) and what <c>replSetGetStatus</c> reports while it is up and <see cref="Healthy"/>.
    /// Setting PRIMARY starts a new term (a newer <c>electionId</c>), as an election would.
    /// </summary>
    public MongoMemberState State
    {
        get
        {
            lock (_emulator.Sync)
            {
                return _state;
            }
        }
        set
        {
            lock (_emulator.Sync)
            {
                if (value == MongoMemberState.Primary && _state != MongoMemberState.Primary)
                {
                    _electedTerm = _emulator.NextTerm();
                }

                _state = value;
            }
        }
    }

    /// <summary>
    /// Whether the other members see it healthy. False: it still answers its own connections, but the others report it
    /// <c>health: 0</c>, <c>state: 8</c> (a network partition between members). A member that is down is unhealthy too.
    /// <value>Default: true.</value>
    /// </summary>
    public bool Healthy
    {
        get
        {
            lock (_emulator.Sync)
            {
                return _healthy;
            }
        }
        set
        {
            lock (_emulator.Sync)
            {
                _healthy = value;
            }
        }
    }

    /// <summary>How far its last applied write (<c>optimeDate</c>) is behind the newest write of the set. <value>Default: 0.</value></summary>
    public TimeSpan Lag
    {
        get
        {
            lock (_emulator.Sync)
            {
                return _lag;
            }
        }
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            lock (_emulator.Sync)
            {
                _lag = value;
            }
        }
    }

    /// <summary>Frames refused (bad length, opcode, section or BSON), each of which closed its connection.</summary>
    public int RejectedFrames => Volatile.Read(ref _rejectedFrames);

    /// <summary>Connections open now.</summary>
    public int OpenConnections => _connections.Count;

    /// <summary>How many times it received command <paramref name="name"/> (as sent: <c>hello</c>, <c>isMaster</c>, <c>replSetGetStatus</c>…).</summary>
    public int CommandCount(string name) => _commands.GetValueOrDefault(name);

    internal long ElectedTerm => _electedTerm;

    internal DateTimeOffset UpSince => _upSince;

    internal Task StartAsync(int port, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        _stop = new CancellationTokenSource();
        lock (_emulator.Sync)
        {
            _upSince = _emulator.Time.GetUtcNow();
        }

        Volatile.Write(ref _listener, listener);
        var stop = _stop.Token;
        _acceptLoop = Task.Run(() => AcceptLoopAsync(listener, stop), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Stops listening and closes every open connection: connections are refused until <see cref="ComeBackAsync"/>.</summary>
    public async Task GoDownAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            var listener = Interlocked.Exchange(ref _listener, null);
            if (listener is null)
            {
                return;
            }

            await _stop!.CancelAsync().ConfigureAwait(false);
            listener.Stop();
            foreach (var (id, client) in _connections)
            {
                client.Dispose();
                _connections.TryRemove(id, out _);
            }

            await _acceptLoop.ConfigureAwait(false);
            _stop.Dispose();
            _stop = null;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Listens again on the same port (after <see cref="GoDownAsync"/>); does nothing when up.</summary>
    /// <exception cref="SocketException">When the port was taken meanwhile.</exception>
    public async Task ComeBackAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (IsDown)
            {
                await StartAsync(Port, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await GoDownAsync().ConfigureAwait(false);
        _gate.Dispose();
    }

    private async Task AcceptLoopAsync(TcpListener listener, CancellationToken stop)
    {
        var handlers = new List<Task>();
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var client = await listener.AcceptTcpClientAsync(stop).ConfigureAwait(false);
                long id = _emulator.NextConnectionId();
                _connections[id] = client;
                handlers.RemoveAll(t => t.IsCompleted);
                handlers.Add(Task.Run(() => ServeAsync(id, client, stop), CancellationToken.None));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // Stopped (InvalidOperationException: the listener was stopped between the loop's check and its accept).
        }

        await Task.WhenAll(handlers).ConfigureAwait(false);
    }

    private async Task ServeAsync(long connectionId, TcpClient client, CancellationToken stop)
    {
        try
        {
            client.NoDelay = true;
            var stream = client.GetStream();
            byte[] header = new byte[WireProtocol.HeaderLength];
            while (!stop.IsCancellationRequested)
            {
                if (!await ReadExactlyOrEndAsync(stream, header, stop).ConfigureAwait(false))
                {
                    return;
                }

                WireRequest request;
                try
                {
                    var (length, requestId, opCode) = WireProtocol.ParseHeader(header);
                    byte[] body = new byte[length - WireProtocol.HeaderLength];
                    await stream.ReadExactlyAsync(body, stop).ConfigureAwait(false);
                    request = WireProtocol.ParseBody(requestId, opCode, body);
                }
                catch (InvalidFrameException)
                {
                    Interlocked.Increment(ref _rejectedFrames);
                    return;
                }

                _commands.AddOrUpdate(request.Name, 1, static (_, n) => n + 1);
                var reply = MongoCommands.Handle(_emulator, this, request, connectionId);
                if (request.MoreToCome)
                {
                    continue;
                }

                int replyId = _emulator.NextRequestId();
                byte[] frame = request.Legacy
                    ? WireProtocol.Reply(replyId, request.RequestId, reply)
                    : WireProtocol.MsgReply(replyId, request.RequestId, reply);
                await stream.WriteAsync(frame, stop).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The peer went away, or the member went down.
        }
        finally
        {
            _connections.TryRemove(connectionId, out _);
            client.Dispose();
        }
    }

    private static async Task<bool> ReadExactlyOrEndAsync(Stream stream, byte[] buffer, CancellationToken cancellationToken)
    {
        int read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            return false;
        }

        if (read < buffer.Length)
        {
            throw new IOException("connection closed inside a message header");
        }

        return true;
    }
}
