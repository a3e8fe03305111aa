using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Tocsin.RocketChatEmulator;

/// <summary>A user that can call the REST API with a personal access token.</summary>
/// <param name="Id">The user's <c>_id</c>, sent as <c>X-User-Id</c>.</param>
/// <param name="Username">The user name (<c>@name</c>).</param>
/// <param name="Pat">The personal access token, sent as <c>X-Auth-Token</c>.</param>
public sealed record RocketChatUser(string Id, string Username, string Pat);

/// <summary>A room.</summary>
/// <param name="Id">The room id (<c>rid</c>), e.g. <c>GENERAL</c>.</param>
/// <param name="Name">The channel name without <c>#</c>, or for a direct room the other user's name.</param>
/// <param name="Type"><c>c</c> (public channel), <c>p</c> (private group) or <c>d</c> (direct messages), as Rocket.Chat's <c>t</c>.</param>
public sealed record RocketChatRoom(string Id, string Name, string Type);

/// <summary>An incoming webhook integration: POSTs to <c>/hooks/{Id}/{Token}</c> post into <paramref name="RoomId"/> as <paramref name="UserId"/>.</summary>
public sealed record RocketChatIncomingWebhook(string Id, string Token, string RoomId, string UserId)
{
    /// <summary>The path of the hook, <c>hooks/{id}/{token}</c>, relative to an instance's base address.</summary>
    public string Path => $"hooks/{Id}/{Token}";
}

/// <summary>A message the emulator accepted.</summary>
/// <param name="Id">The message <c>_id</c>.</param>
/// <param name="RoomId">The room (<c>rid</c>).</param>
/// <param name="Text">The message text (<c>msg</c>).</param>
/// <param name="UserId">Who sent it.</param>
/// <param name="Username">Their user name.</param>
/// <param name="Time">When it was accepted (the emulator's clock).</param>
/// <param name="Instance">Index of the instance that accepted it (0-based).</param>
/// <param name="Endpoint">How it came: <c>chat.sendMessage</c>, <c>chat.postMessage</c> or <c>hooks</c>.</param>
public sealed record RecordedMessage(string Id, string RoomId, string Text, string UserId, string Username, DateTimeOffset Time, int Instance, string Endpoint);

/// <summary>
/// What every instance of one emulated cluster shares, as Rocket.Chat instances share one MongoDB: users, rooms, incoming
/// webhooks and messages. Thread-safe. Starts with the room <c>GENERAL</c> (<c>#general</c>), as a fresh Rocket.Chat does.
/// </summary>
public sealed class RocketChatState
{
    private const string IdAlphabet = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";

    private readonly ConcurrentDictionary<string, RocketChatUser> _users = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RocketChatRoom> _rooms = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RocketChatIncomingWebhook> _hooks = new(StringComparer.Ordinal);
    private readonly List<RecordedMessage> _messages = [];
    private readonly Lock _lock = new();
    private readonly List<RocketChatPhantomInstance> _phantoms = [];
    private IReadOnlyList<RocketChatInstance> _cluster = [];

    /// <summary>Creates the state with the <c>GENERAL</c> room.</summary>
    public RocketChatState(TimeProvider time)
    {
        Time = time;
        AddRoom("general", "GENERAL");
    }

    /// <summary>The clock messages are stamped with.</summary>
    public TimeProvider Time { get; }

    /// <summary>Every message accepted so far, oldest first (a snapshot).</summary>
    public IReadOnlyList<RecordedMessage> Messages
    {
        get
        {
            lock (_lock)
            {
                return [.. _messages];
            }
        }
    }

    /// <summary>The extra, serverless entries <c>/api/v1/instances.get</c> lists after the real instances (a snapshot).</summary>
    public IReadOnlyList<RocketChatPhantomInstance> PhantomInstances
    {
        get
        {
            lock (_lock)
            {
                return [.. _phantoms];
            }
        }
    }

    /// <summary>The instances of the cluster, as <c>/api/v1/instances.get</c> lists them.</summary>
    internal IReadOnlyList<RocketChatInstance> Cluster
    {
        get => Volatile.Read(ref _cluster);
        set => Volatile.Write(ref _cluster, value);
    }

    /// <summary>Lists an instance with no server behind it in <c>/api/v1/instances.get</c> (to test an unreachable instance).</summary>
    /// <param name="address">The address listed (<c>address</c> and <c>extraInformation.host</c>).</param>
    /// <param name="port">The port listed (<c>extraInformation.port</c>); pick one nothing listens on.</param>
    /// <param name="connected">The <c>currentStatus.connected</c> flag listed.</param>
    /// <param name="lastHeartbeat">The <c>currentStatus.lastHeartbeatTime</c> listed, or null for the emulator's now (a live record).</param>
    public RocketChatPhantomInstance AddPhantomInstance(string address, int port, bool connected = true, DateTimeOffset? lastHeartbeat = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(address);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        var phantom = new RocketChatPhantomInstance(NewId(), address, port, connected, lastHeartbeat);
        lock (_lock)
        {
            _phantoms.Add(phantom);
        }

        return phantom;
    }

    /// <summary>The users.</summary>
    public IReadOnlyCollection<RocketChatUser> Users => [.. _users.Values];

    /// <summary>The rooms.</summary>
    public IReadOnlyCollection<RocketChatRoom> Rooms => [.. _rooms.Values];

    /// <summary>Adds a user with a personal access token (random ones when not given).</summary>
    public RocketChatUser AddUser(string username, string? id = null, string? pat = null)
    {
        var user = new RocketChatUser(id ?? NewId(), username, pat ?? NewToken());
        if (!_users.TryAdd(user.Id, user))
        {
            throw new InvalidOperationException($"user id {user.Id} already exists");
        }

        return user;
    }

    /// <summary>Adds a public channel (<c>#name</c>).</summary>
    public RocketChatRoom AddRoom(string name, string? id = null)
    {
        var room = new RocketChatRoom(id ?? NewId(), name, "c");
        if (!_rooms.TryAdd(room.Id, room))
        {
            throw new InvalidOperationException($"room id {room.Id} already exists");
        }

        return room;
    }

    /// <summary>Adds an incoming webhook posting into <paramref name="room"/> as <paramref name="poster"/>.</summary>
    public RocketChatIncomingWebhook AddIncomingWebhook(RocketChatRoom room, RocketChatUser poster)
    {
        ArgumentNullException.ThrowIfNull(room);
        ArgumentNullException.ThrowIfNull(poster);
        var hook = new RocketChatIncomingWebhook(NewId(), NewToken(), room.Id, poster.Id);
        _hooks[hook.Id] = hook;
        return hook;
    }

    /// <summary>Clears the recorded messages.</summary>
    public void ClearMessages()
    {
        lock (_lock)
        {
            _messages.Clear();
        }
    }

    /// <summary>The user whose id and token match (ordinal, constant time on the token), or null.</summary>
    public RocketChatUser? Authenticate(string? userId, string? token)
    {
        if (string.IsNullOrEmpty(userId) || string.IsNullOrEmpty(token) || !_users.TryGetValue(userId, out var user))
        {
            return null;
        }

        return CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(user.Pat), System.Text.Encoding.UTF8.GetBytes(token)) ? user : null;
    }

    /// <summary>The user with this id, or null.</summary>
    public RocketChatUser? FindUser(string id) => _users.GetValueOrDefault(id);

    /// <summary>The user with this user name, or null.</summary>
    public RocketChatUser? FindUserByName(string username) => _users.Values.FirstOrDefault(u => u.Username == username);

    /// <summary>The room with this id, or null.</summary>
    public RocketChatRoom? FindRoom(string id) => _rooms.GetValueOrDefault(id);

    /// <summary>The public channel with this name (without <c>#</c>), or null.</summary>
    public RocketChatRoom? FindRoomByName(string name) => _rooms.Values.FirstOrDefault(r => r.Type != "d" && r.Name == name);

    /// <summary>The hook with this id and token, or null.</summary>
    public RocketChatIncomingWebhook? FindHook(string id, string token) =>
        _hooks.TryGetValue(id, out var hook) && hook.Token == token ? hook : null;

    /// <summary>The direct room of two users (id: both user ids, sorted, concatenated, as Rocket.Chat makes it), created when missing.</summary>
    public RocketChatRoom DirectRoom(RocketChatUser a, RocketChatUser b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        string id = string.CompareOrdinal(a.Id, b.Id) <= 0 ? a.Id + b.Id : b.Id + a.Id;
        return _rooms.GetOrAdd(id, _ => new RocketChatRoom(id, b.Username, "d"));
    }

    /// <summary>Records a message and returns it.</summary>
    public RecordedMessage Record(string roomId, string text, RocketChatUser user, int instance, string endpoint)
    {
        ArgumentNullException.ThrowIfNull(user);
        var message = new RecordedMessage(NewId(), roomId, text, user.Id, user.Username, Time.GetUtcNow(), instance, endpoint);
        lock (_lock)
        {
            _messages.Add(message);
        }

        return message;
    }

    /// <summary>A Meteor-style id: 17 characters of Meteor's unambiguous alphabet.</summary>
    public static string NewId() => RandomNumberGenerator.GetString(IdAlphabet, 17);

    /// <summary>A token like Rocket.Chat's personal access tokens (43 URL-safe characters).</summary>
    public static string NewToken() => RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 43);
}
