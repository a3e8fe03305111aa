using System.Globalization;
using MongoDB.Bson;

namespace Tocsin.MongoEmulator;

/// <summary>
/// The commands the emulator answers, in the shapes a MongoDB 7.0 <c>mongod</c> gives (field names and types as the server
/// sends them, so that the driver's handshake, server monitoring and <c>replSetGetStatus</c> readers work unchanged).
/// </summary>
internal static class MongoCommands
{
    private static readonly DateTime Epoch = DateTime.UnixEpoch;

    private sealed record MemberView(MongoMember Member, MongoMemberState State, bool Up, bool Healthy, TimeSpan Lag, long ElectedTerm, DateTimeOffset UpSince);

    private sealed record SetView(string SetName, bool Replication, long Term, IReadOnlyList<MemberView> Members, DateTimeOffset Now)
    {
        /// <summary>Seen by the others: up and not partitioned away.</summary>
        public static bool Reachable(MemberView m) => m.Up && m.Healthy;
    }

    public static BsonDocument Handle(MongoEmulator emulator, MongoMember self, WireRequest request, long connectionId)
    {
        string name = request.Name;
        if (request.Command.Contains("$query-on-collection"))
        {
            return Error($"OP_QUERY on {request.Command[0].AsString} is not supported; use OP_MSG", 352, "UnsupportedOpQueryCommand");
        }

        if (request.Legacy && name is not ("hello" or "isMaster" or "ismaster"))
        {
            return Error(
                $"Unsupported OP_QUERY command: {name}. The client driver may require an upgrade. For more details see https://dochub.mongodb.org/core/legacy-opcode-removal",
                352, "UnsupportedOpQueryCommand");
        }

        var view = Snapshot(emulator);
        var me = view.Members[self.Index];
        return name switch
        {
            "hello" => Hello(emulator, view, me, request.Command, connectionId, legacyNames: false),
            "isMaster" or "ismaster" => Hello(emulator, view, me, request.Command, connectionId, legacyNames: true),
            "ping" => Ok(),
            "buildInfo" or "buildinfo" => BuildInfo(emulator),
            "endSessions" => Ok(),
            "replSetGetStatus" => ReplSetGetStatus(view, me, request.Database),
            "saslStart" or "saslContinue" or "authenticate" => Error("Authentication failed.", 18, "AuthenticationFailed"),
            _ => Error($"no such command: '{name}'", 59, "CommandNotFound"),
        };
    }

    private static SetView Snapshot(MongoEmulator emulator)
    {
        lock (emulator.Sync)
        {
            var members = emulator.Members
                .Select(m => new MemberView(m, m.State, !m.IsDown, m.Healthy, m.Lag, m.ElectedTerm, m.UpSince))
                .ToList();
            return new SetView(emulator.SetName, emulator.ReplicationEnabled, emulator.CurrentTerm, members, emulator.Time.GetUtcNow());
        }
    }

    private static BsonDocument Hello(MongoEmulator emulator, SetView view, MemberView me, BsonDocument command, long connectionId, bool legacyNames)
    {
        bool replica = view.Replication && me.State is not (MongoMemberState.Startup or MongoMemberState.Removed);
        bool writable = !view.Replication || me.State == MongoMemberState.Primary;
        var reply = new BsonDocument();
        if (command.Contains("helloOk"))
        {
            reply["helloOk"] = true;
        }

        reply[legacyNames ? "ismaster" : "isWritablePrimary"] = writable;
        if (replica)
        {
            // No topologyVersion: drivers then poll with hello instead of using the streaming (exhaust) protocol.
            reply["hosts"] = new BsonArray(view.Members.Where(m => m.State != MongoMemberState.Arbiter).Select(m => m.Member.Host));
            var arbiters = view.Members.Where(m => m.State == MongoMemberState.Arbiter).Select(m => m.Member.Host).ToList();
            if (arbiters.Count > 0)
            {
                reply["arbiters"] = new BsonArray(arbiters);
            }

            reply["setName"] = view.SetName;
            reply["setVersion"] = 1;
            reply["secondary"] = me.State == MongoMemberState.Secondary;
            if (me.State == MongoMemberState.Arbiter)
            {
                reply["arbiterOnly"] = true;
            }

            var primary = me.State == MongoMemberState.Primary
                ? me
                : view.Members.FirstOrDefault(m => m.State == MongoMemberState.Primary && SetView.Reachable(m));
            if (primary is not null)
            {
                reply["primary"] = primary.Member.Host;
            }

            reply["me"] = me.Member.Host;
            if (me.State == MongoMemberState.Primary)
            {
                reply["electionId"] = ElectionId(me.ElectedTerm);
            }

            if (me.State != MongoMemberState.Arbiter)
            {
                var optime = view.Now - me.Lag;
                reply["lastWrite"] = new BsonDocument
                {
                    ["opTime"] = OpTime(optime, view.Term),
                    ["lastWriteDate"] = Date(optime),
                    ["majorityOpTime"] = OpTime(optime, view.Term),
                    ["majorityWriteDate"] = Date(optime),
                };
            }
        }
        else if (view.Replication)
        {
            reply["secondary"] = false;
            reply["info"] = "Does not have a valid replica set config";
            reply["isreplicaset"] = true;
        }

        if (command.Contains("saslSupportedMechs"))
        {
            reply["saslSupportedMechs"] = new BsonArray { "SCRAM-SHA-1", "SCRAM-SHA-256" };
        }

        reply["maxBsonObjectSize"] = WireProtocol.MaxBsonObjectSize;
        reply["maxMessageSizeBytes"] = WireProtocol.MaxMessageSizeBytes;
        reply["maxWriteBatchSize"] = 100_000;
        reply["localTime"] = Date(view.Now);
        reply["logicalSessionTimeoutMinutes"] = 30;
        reply["connectionId"] = connectionId;
        reply["minWireVersion"] = 0;
        reply["maxWireVersion"] = emulator.MaxWireVersion;
        reply["readOnly"] = false;
        reply["ok"] = 1.0;
        return reply;
    }

    private static BsonDocument BuildInfo(MongoEmulator emulator)
    {
        var parts = emulator.Version.Split('.').Select(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : 0).ToList();
        while (parts.Count < 4)
        {
            parts.Add(0);
        }

        return new BsonDocument
        {
            ["version"] = emulator.Version,
            ["gitVersion"] = "0000000000000000000000000000000000000000",
            ["modules"] = new BsonArray(),
            ["allocator"] = "tcmalloc",
            ["javascriptEngine"] = "mozjs",
            ["sysInfo"] = "deprecated",
            ["versionArray"] = new BsonArray(parts.Take(4)),
            ["bits"] = 64,
            ["debug"] = false,
            ["maxBsonObjectSize"] = WireProtocol.MaxBsonObjectSize,
            ["storageEngines"] = new BsonArray { "devnull", "wiredTiger" },
            ["ok"] = 1.0,
        };
    }

    private static BsonDocument ReplSetGetStatus(SetView view, MemberView me, string database)
    {
        if (!view.Replication)
        {
            return Error("not running with --replSet", 76, "NoReplicationEnabled");
        }

        if (database != "admin")
        {
            return Error("replSetGetStatus may only be run against the admin database.", 13, "Unauthorized");
        }

        if (me.State == MongoMemberState.Startup)
        {
            return Error("no replset config has been received", 94, "NotYetInitialized");
        }

        if (me.State == MongoMemberState.Removed)
        {
            return Error("Our replica set config is invalid or we are not a member of it", 93, "InvalidReplicaSetConfig");
        }

        int voting = view.Members.Count;
        int dataBearing = view.Members.Count(m => m.State != MongoMemberState.Arbiter);
        int majority = (voting / 2) + 1;
        var myOptime = view.Now - me.Lag;
        var syncSource = me.State == MongoMemberState.Secondary
            ? view.Members.FirstOrDefault(m => m.State == MongoMemberState.Primary && SetView.Reachable(m))
            : null;
        return new BsonDocument
        {
            ["set"] = view.SetName,
            ["date"] = Date(view.Now),
            ["myState"] = (int)me.State,
            ["term"] = view.Term,
            ["syncSourceHost"] = syncSource?.Member.Host ?? "",
            ["syncSourceId"] = syncSource?.Member.Index ?? -1,
            ["heartbeatIntervalMillis"] = 2000L,
            ["majorityVoteCount"] = majority,
            ["writeMajorityCount"] = Math.Min(majority, dataBearing),
            ["votingMembersCount"] = voting,
            ["writableVotingMembersCount"] = dataBearing,
            ["optimes"] = new BsonDocument
            {
                ["lastCommittedOpTime"] = OpTime(myOptime, view.Term),
                ["lastCommittedWallTime"] = Date(myOptime),
                ["readConcernMajorityOpTime"] = OpTime(myOptime, view.Term),
                ["appliedOpTime"] = OpTime(myOptime, view.Term),
                ["durableOpTime"] = OpTime(myOptime, view.Term),
                ["lastAppliedWallTime"] = Date(myOptime),
                ["lastDurableWallTime"] = Date(myOptime),
            },
            ["members"] = new BsonArray(view.Members.Select(m => MemberStatus(view, m, self: m == me))),
            ["ok"] = 1.0,
        };
    }

    private static BsonDocument MemberStatus(SetView view, MemberView m, bool self)
    {
        var doc = new BsonDocument { ["_id"] = m.Member.Index, ["name"] = m.Member.Host };
        if (!self && !SetView.Reachable(m))
        {
            doc["health"] = 0.0;
            doc["state"] = (int)MongoMemberState.Down;
            doc["stateStr"] = MongoMemberStates.Text(MongoMemberState.Down);
            doc["uptime"] = 0;
            doc["optime"] = new BsonDocument { ["ts"] = new BsonTimestamp(0, 0), ["t"] = -1L };
            doc["optimeDurable"] = new BsonDocument { ["ts"] = new BsonTimestamp(0, 0), ["t"] = -1L };
            doc["optimeDate"] = new BsonDateTime(Epoch);
            doc["optimeDurableDate"] = new BsonDateTime(Epoch);
            doc["lastAppliedWallTime"] = new BsonDateTime(Epoch);
            doc["lastDurableWallTime"] = new BsonDateTime(Epoch);
            doc["lastHeartbeat"] = Date(view.Now);
            doc["lastHeartbeatRecv"] = new BsonDateTime(Epoch);
            doc["pingMs"] = 0L;
            doc["lastHeartbeatMessage"] = m.Up
                ? $"Couldn't get a connection within the time limit while checking {m.Member.Host}"
                : $"Error connecting to {m.Member.Host} :: caused by :: Connection refused";
            doc["authenticated"] = false;
            doc["syncSourceHost"] = "";
            doc["syncSourceId"] = -1;
            doc["infoMessage"] = "";
            doc["configVersion"] = -1;
            doc["configTerm"] = -1;
            return doc;
        }

        doc["health"] = 1.0;
        doc["state"] = (int)m.State;
        doc["stateStr"] = MongoMemberStates.Text(m.State);
        doc["uptime"] = (int)Math.Max(0, (view.Now - m.UpSince).TotalSeconds);
        if (m.State != MongoMemberState.Arbiter)
        {
            var optime = view.Now - m.Lag;
            doc["optime"] = OpTime(optime, view.Term);
            if (!self)
            {
                doc["optimeDurable"] = OpTime(optime, view.Term);
            }

            doc["optimeDate"] = Date(optime);
            if (!self)
            {
                doc["optimeDurableDate"] = Date(optime);
            }

            doc["lastAppliedWallTime"] = Date(optime);
            doc["lastDurableWallTime"] = Date(optime);
        }

        if (!self)
        {
            doc["lastHeartbeat"] = Date(view.Now);
            doc["lastHeartbeatRecv"] = Date(view.Now);
            doc["pingMs"] = 0L;
            doc["lastHeartbeatMessage"] = "";
        }

        var source = m.State == MongoMemberState.Secondary ? view.Members.FirstOrDefault(p => p.State == MongoMemberState.Primary && SetView.Reachable(p)) : null;
        doc["syncSourceHost"] = source?.Member.Host ?? "";
        doc["syncSourceId"] = source?.Member.Index ?? -1;
        doc["infoMessage"] = "";
        if (m.State == MongoMemberState.Primary)
        {
            doc["electionTime"] = new BsonTimestamp((int)m.UpSince.ToUnixTimeSeconds(), 1);
            doc["electionDate"] = Date(m.UpSince);
        }

        doc["configVersion"] = 1;
        doc["configTerm"] = view.Term;
        if (self)
        {
            doc["self"] = true;
            doc["lastHeartbeatMessage"] = "";
        }

        return doc;
    }

    private static BsonObjectId ElectionId(long term) =>
        new(ObjectId.Parse("7fffffff" + term.ToString("x16", CultureInfo.InvariantCulture)));

    private static BsonDocument OpTime(DateTimeOffset at, long term) =>
        new() { ["ts"] = new BsonTimestamp((int)at.ToUnixTimeSeconds(), 1), ["t"] = term };

    private static BsonDateTime Date(DateTimeOffset at) => new(at.UtcDateTime);

    private static BsonDocument Ok() => new() { ["ok"] = 1.0 };

    private static BsonDocument Error(string message, int code, string codeName) =>
        new() { ["ok"] = 0.0, ["errmsg"] = message, ["code"] = code, ["codeName"] = codeName };
}
