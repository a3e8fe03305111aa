using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;
using MongoDB.Driver;
using Tocsin.MongoEmulator;
using Emulator = Tocsin.MongoEmulator.MongoEmulator;

namespace Tocsin.Core.Tests.Tools;

/// <summary>The MongoDB replica-set emulator, through the real MongoDB driver and through raw wire-protocol frames.</summary>
public sealed class MongoEmulatorTests : IAsyncLifetime
{
    private Emulator _mongo = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _mongo = await Emulator.StartAsync(cancellationToken: Ct);

    public async ValueTask DisposeAsync() => await _mongo.DisposeAsync();

    private static MongoClient Client(string connectionString)
    {
        var settings = MongoClientSettings.FromConnectionString(connectionString);
        settings.ServerSelectionTimeout = TimeSpan.FromSeconds(10);
        settings.ReadPreference = ReadPreference.PrimaryPreferred;
        return new MongoClient(settings);
    }

    [Fact]
    public async Task The_driver_connects_and_reads_replSetGetStatus_in_the_servers_shape()
    {
        using var client = Client(_mongo.ConnectionString);
        var status = await client.GetDatabase("admin").RunCommandAsync<BsonDocument>(new BsonDocument("replSetGetStatus", 1), cancellationToken: Ct);

        Assert.Equal("rs0", status["set"].AsString);
        Assert.Equal(1, status["myState"].ToInt32());
        Assert.Equal(1.0, status["ok"].ToDouble());
        var members = status["members"].AsBsonArray.Select(m => m.AsBsonDocument).ToList();
        Assert.Equal(3, members.Count);
        Assert.Equal(["PRIMARY", "SECONDARY", "SECONDARY"], members.Select(m => m["stateStr"].AsString));
        Assert.Equal([1, 2, 2], members.Select(m => m["state"].ToInt32()));
        Assert.All(members, m => Assert.Equal(1.0, m["health"].ToDouble()));
        Assert.Equal(_mongo.Members.Select(m => m.Host), members.Select(m => m["name"].AsString));
        Assert.True(members[0]["self"].AsBoolean);
        Assert.All(members, m => Assert.True(m["optimeDate"].IsValidDateTime));
        Assert.True(members[1].Contains("lastHeartbeat"));

        // The driver found the whole set from its seeds and handshakes with hello.
        Assert.True(_mongo.CommandCount("isMaster") + _mongo.CommandCount("hello") >= 3);
        var build = await client.GetDatabase("admin").RunCommandAsync<BsonDocument>(new BsonDocument("buildInfo", 1), cancellationToken: Ct);
        Assert.Equal("7.0.14", build["version"].AsString);
        var ping = await client.GetDatabase("admin").RunCommandAsync<BsonDocument>(new BsonDocument("ping", 1), cancellationToken: Ct);
        Assert.Equal(1.0, ping["ok"].ToDouble());
    }

    [Fact]
    public async Task Scripted_states_lag_and_a_member_down_show_in_replSetGetStatus()
    {
        _mongo.Members[1].Lag = TimeSpan.FromSeconds(45);
        _mongo.Members[2].State = MongoMemberState.Recovering;
        using var client = Client(_mongo.ConnectionString);
        var status = await client.GetDatabase("admin").RunCommandAsync<BsonDocument>(new BsonDocument("replSetGetStatus", 1), cancellationToken: Ct);
        var members = status["members"].AsBsonArray.Select(m => m.AsBsonDocument).ToList();
        var lag = members[0]["optimeDate"].ToUniversalTime() - members[1]["optimeDate"].ToUniversalTime();
        Assert.InRange(lag.TotalSeconds, 44, 46);
        Assert.Equal("RECOVERING", members[2]["stateStr"].AsString);

        await _mongo.Members[1].GoDownAsync();
        Assert.True(_mongo.Members[1].IsDown);
        await Assert.ThrowsAnyAsync<SocketException>(() => ConnectAsync(_mongo.Members[1].Port));
        status = await client.GetDatabase("admin").RunCommandAsync<BsonDocument>(new BsonDocument("replSetGetStatus", 1), cancellationToken: Ct);
        var down = status["members"][1].AsBsonDocument;
        Assert.Equal(0.0, down["health"].ToDouble());
        Assert.Equal(8, down["state"].ToInt32());
        Assert.Equal("(not reachable/healthy)", down["stateStr"].AsString);
        Assert.Contains("Connection refused", down["lastHeartbeatMessage"].AsString, StringComparison.Ordinal);

        await _mongo.Members[1].ComeBackAsync(Ct);
        using var again = await ConnectAsync(_mongo.Members[1].Port);
        var reply = await CommandAsync(again, Msg(1, new BsonDocument { ["ping"] = 1, ["$db"] = "admin" }));
        Assert.Equal(1.0, reply["ok"].ToDouble());
    }

    [Fact]
    public async Task Two_primaries_and_no_primary_are_reported_as_scripted()
    {
        _mongo.SetStates(MongoMemberState.Primary, MongoMemberState.Primary, MongoMemberState.Secondary);
        using var socket = await ConnectAsync(_mongo.Members[2].Port);
        var status = await CommandAsync(socket, Msg(1, new BsonDocument { ["replSetGetStatus"] = 1, ["$db"] = "admin" }));
        Assert.Equal(2, status["members"].AsBsonArray.Count(m => m["state"].ToInt32() == 1));

        using var socket0 = await ConnectAsync(_mongo.Members[0].Port);
        using var socket1 = await ConnectAsync(_mongo.Members[1].Port);
        var hello0 = await CommandAsync(socket0, Msg(2, new BsonDocument { ["hello"] = 1, ["$db"] = "admin" }));
        var hello1 = await CommandAsync(socket1, Msg(3, new BsonDocument { ["hello"] = 1, ["$db"] = "admin" }));
        Assert.True(hello0["isWritablePrimary"].AsBoolean);
        Assert.True(hello1["isWritablePrimary"].AsBoolean);
        Assert.True(hello1["electionId"].AsObjectId > hello0["electionId"].AsObjectId, "the later election has the newer electionId");

        _mongo.SetStates(MongoMemberState.Secondary, MongoMemberState.Secondary, MongoMemberState.Secondary);
        var hello = await CommandAsync(socket, Msg(4, new BsonDocument { ["hello"] = 1, ["$db"] = "admin" }));
        Assert.False(hello["isWritablePrimary"].AsBoolean);
        Assert.True(hello["secondary"].AsBoolean);
        Assert.False(hello.Contains("primary"));
        Assert.Equal("rs0", hello["setName"].AsString);
        Assert.Equal(_mongo.Members.Select(m => (BsonValue)m.Host), hello["hosts"].AsBsonArray);
    }

    [Fact]
    public async Task Legacy_OP_QUERY_isMaster_is_answered_with_OP_REPLY_and_other_legacy_commands_are_refused()
    {
        using var socket = await ConnectAsync(_mongo.Members[0].Port);
        var reply = await CommandAsync(socket, Query(7, "admin.$cmd", new BsonDocument { ["isMaster"] = 1, ["helloOk"] = true }));
        Assert.True(reply["ismaster"].AsBoolean);
        Assert.True(reply["helloOk"].AsBoolean);
        Assert.Equal(21, reply["maxWireVersion"].ToInt32());
        Assert.Equal(_mongo.Members[0].Host, reply["me"].AsString);

        reply = await CommandAsync(socket, Query(8, "admin.$cmd", new BsonDocument("$query", new BsonDocument("ismaster", 1))));
        Assert.True(reply["ismaster"].AsBoolean);

        reply = await CommandAsync(socket, Query(9, "admin.$cmd", new BsonDocument("replSetGetStatus", 1)));
        Assert.Equal(352, reply["code"].ToInt32());
    }

    [Fact]
    public async Task OP_MSG_kind_1_sections_unknown_commands_and_authentication_get_the_servers_answers()
    {
        using var socket = await ConnectAsync(_mongo.Members[0].Port);
        var sequence = new BsonDocument("id", new BsonBinaryData(Guid.NewGuid(), GuidRepresentation.Standard));
        var reply = await CommandAsync(socket, Msg(1, new BsonDocument { ["endSessions"] = new BsonArray(), ["$db"] = "admin" }, ("ids", [sequence])));
        Assert.Equal(1.0, reply["ok"].ToDouble());

        reply = await CommandAsync(socket, Msg(2, new BsonDocument { ["frobnicate"] = 1, ["$db"] = "admin" }));
        Assert.Equal(0.0, reply["ok"].ToDouble());
        Assert.Equal(59, reply["code"].ToInt32());
        Assert.Equal("CommandNotFound", reply["codeName"].AsString);
        Assert.Equal("no such command: 'frobnicate'", reply["errmsg"].AsString);

        reply = await CommandAsync(socket, Msg(3, new BsonDocument { ["saslStart"] = 1, ["mechanism"] = "SCRAM-SHA-256", ["payload"] = new BsonBinaryData([1, 2]), ["$db"] = "admin" }));
        Assert.Equal(18, reply["code"].ToInt32());

        reply = await CommandAsync(socket, Msg(4, new BsonDocument { ["replSetGetStatus"] = 1, ["$db"] = "test" }));
        Assert.Equal(13, reply["code"].ToInt32());
    }

    [Fact]
    public async Task Standalone_mode_refuses_replSetGetStatus_with_NoReplicationEnabled()
    {
        await using var standalone = await Emulator.StartAsync(new MongoEmulatorOptions { Members = 1, ReplicationEnabled = false }, Ct);
        Assert.DoesNotContain("replicaSet", standalone.ConnectionString, StringComparison.Ordinal);
        using var client = Client(standalone.ConnectionString);
        var ex = await Assert.ThrowsAsync<MongoCommandException>(() =>
            client.GetDatabase("admin").RunCommandAsync<BsonDocument>(new BsonDocument("replSetGetStatus", 1), cancellationToken: Ct));
        Assert.Equal(76, ex.Code);
        Assert.Equal("NoReplicationEnabled", ex.CodeName);
    }

    [Fact]
    public async Task Garbage_frames_close_only_their_connection()
    {
        int port = _mongo.Members[0].Port;
        byte[] badLength = Header(length: 3, opCode: WireOpMsg);
        byte[] hugeLength = Header(length: 1 << 30, opCode: WireOpMsg);
        byte[] badOpCode = Msg(1, new BsonDocument("ping", 1));
        BinaryPrimitives.WriteInt32LittleEndian(badOpCode.AsSpan(12), 2010);
        byte[] badBson = Msg(1, new BsonDocument("ping", 1));
        BinaryPrimitives.WriteInt32LittleEndian(badBson.AsSpan(21), 4000); // the document's length past the frame
        byte[] badSection = Msg(1, new BsonDocument("ping", 1));
        badSection[20] = 9;
        byte[] noise = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n");

        foreach (byte[] garbage in new[] { badLength, hugeLength, badOpCode, badBson, badSection, noise })
        {
            using var socket = await ConnectAsync(port);
            await socket.GetStream().WriteAsync(garbage, Ct);
            byte[] buffer = new byte[64];
            int read = await socket.GetStream().ReadAsync(buffer, Ct);
            Assert.Equal(0, read); // closed, no answer
        }

        Assert.Equal(6, _mongo.Members[0].RejectedFrames);
        using var fresh = await ConnectAsync(port);
        var reply = await CommandAsync(fresh, Msg(2, new BsonDocument { ["ping"] = 1, ["$db"] = "admin" }));
        Assert.Equal(1.0, reply["ok"].ToDouble());
    }

    private const int WireOpMsg = 2013;

    private static async Task<TcpClient> ConnectAsync(int port)
    {
        var client = new TcpClient();
        try
        {
            await client.ConnectAsync("127.0.0.1", port, Ct);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private static byte[] Header(int length, int opCode)
    {
        byte[] header = new byte[16];
        BinaryPrimitives.WriteInt32LittleEndian(header, length);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(4), 1);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), opCode);
        return header;
    }

    private static byte[] Msg(int requestId, BsonDocument body, params (string Id, BsonDocument[] Documents)[] sequences)
    {
        using var stream = new MemoryStream();
        stream.Write(new byte[16]);
        stream.Write(new byte[4]); // flagBits
        stream.WriteByte(0);
        stream.Write(body.ToBson());
        foreach (var (id, documents) in sequences)
        {
            byte[] idBytes = Encoding.UTF8.GetBytes(id);
            byte[][] docs = [.. documents.Select(d => d.ToBson())];
            stream.WriteByte(1);
            byte[] size = new byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(size, 4 + idBytes.Length + 1 + docs.Sum(d => d.Length));
            stream.Write(size);
            stream.Write(idBytes);
            stream.WriteByte(0);
            foreach (byte[] d in docs)
            {
                stream.Write(d);
            }
        }

        byte[] frame = stream.ToArray();
        Header((int)stream.Length, WireOpMsg).AsSpan(0, 16).CopyTo(frame);
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(4), requestId);
        return frame;
    }

    private static byte[] Query(int requestId, string collection, BsonDocument query)
    {
        using var stream = new MemoryStream();
        stream.Write(new byte[16]);
        stream.Write(new byte[4]); // flags
        stream.Write(Encoding.UTF8.GetBytes(collection));
        stream.WriteByte(0);
        stream.Write(new byte[4]); // numberToSkip
        byte[] minusOne = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(minusOne, -1);
        stream.Write(minusOne);
        stream.Write(query.ToBson());
        byte[] frame = stream.ToArray();
        Header(frame.Length, 2004).CopyTo(frame, 0);
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(4), requestId);
        return frame;
    }

    /// <summary>Sends a frame and reads the reply: OP_MSG (kind-0 section) or OP_REPLY (first document); checks responseTo.</summary>
    private static async Task<BsonDocument> CommandAsync(TcpClient socket, byte[] frame)
    {
        var stream = socket.GetStream();
        await stream.WriteAsync(frame, Ct);
        byte[] header = new byte[16];
        await stream.ReadExactlyAsync(header, Ct);
        int length = BinaryPrimitives.ReadInt32LittleEndian(header);
        int responseTo = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(8));
        int opCode = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(12));
        Assert.Equal(BinaryPrimitives.ReadInt32LittleEndian(frame.AsSpan(4)), responseTo);
        byte[] body = new byte[length - 16];
        await stream.ReadExactlyAsync(body, Ct);
        bool query = BinaryPrimitives.ReadInt32LittleEndian(frame.AsSpan(12)) == 2004;
        Assert.Equal(query ? 1 : WireOpMsg, opCode);
        if (query)
        {
            Assert.Equal(1, BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(16))); // numberReturned
        }

        return BsonSerializer.Deserialize<BsonDocument>(body.AsSpan(query ? 20 : 5).ToArray());
    }
}
