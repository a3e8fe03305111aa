using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using MongoDB.Bson;
using MongoDB.Driver;
using MongoDB.Driver.Core.Configuration;
using Tocsin.Configuration;

namespace Tocsin.Checks.MongoDbReplicaSet;

/// <summary>
/// The <c>mongodb-replicaset</c> check kind (seed 001): each run sends <c>{"replSetGetStatus": 1}</c> to the <c>admin</c>
/// database through the MongoDB driver and judges the answer with <see cref="ReplicaSetVerdict"/> (OK: exactly one PRIMARY,
/// every member healthy, lag under <c>maxLag</c>, the expected name and member count; see there for WARNING and CRITICAL).
/// UNKNOWN when it cannot tell: no member reachable or selectable within the timeout, authentication refused, the user lacks
/// the right to run <c>replSetGetStatus</c> (role <c>clusterMonitor</c>), or the server is not a replica set (code 76
/// <c>NoReplicationEnabled</c>).
/// <para><b>Driver use</b>: one <see cref="MongoClient"/> per connection string and timeout, kept for later runs (at most
/// <see cref="MaxCachedClients"/>, least recently used disposed first). Read preference <c>primaryPreferred</c>, so a set
/// without a PRIMARY is still asked (by a SECONDARY); when another member answered while it sees a healthy PRIMARY (the driver had
/// not found it yet), the PRIMARY is asked too and its view is judged. The URI's <c>replicaSet</c> is not given to the driver, which would
/// otherwise ignore members of a set with another name: the name is compared by the check instead (CRITICAL).
/// Server selection waits at most 70 % of the check's timeout, connecting at most that or 10 s, and the run gives up
/// at 90 % of it (UNKNOWN), so that an unreachable set is reported as such before the executor's timeout (CRITICAL).
/// A connection dropped under a command is retried once. The driver's logging and tracing are off (no command text, no
/// connection string leave it), and the password never appears in messages, details or <see cref="Describe"/>.</para>
/// </summary>
public sealed class MongoDbReplicaSetCheckKind : ICheckKind, ICheckRunner, IDisposable
{
    /// <summary>The kind's name in configuration.</summary>
    public const string KindName = "mongodb-replicaset";

    /// <summary>Most driver clients kept between runs.</summary>
    public const int MaxCachedClients = 32;

    private static readonly TimeSpan MaxConnectTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan MaxLagLimit = TimeSpan.FromDays(7);

    private readonly TimeProvider _time;
    private readonly MongoClientCache _clients = new(MaxCachedClients);

    /// <summary>Creates the kind.</summary>
    public MongoDbReplicaSetCheckKind(TimeProvider time) => _time = time;

    /// <inheritdoc />
    public string Name => KindName;

    /// <inheritdoc />
    public ICheckRunner Runner => this;

    /// <inheritdoc />
    public TimeSpan? DefaultTimeout => TimeSpan.FromSeconds(10);

    /// <summary>1 minute: an election or a lagging member shows within a minute without a command every 30 s.</summary>
    public TimeSpan? DefaultInterval => TimeSpan.FromMinutes(1);

    /// <summary>Driver clients held now (for tests and diagnostics).</summary>
    public int CachedClients => _clients.Count;

    /// <inheritdoc />
    public string Describe(object options) => options is MongoDbReplicaSetOptions o
        ? $"replSetGetStatus on {string.Join(",", o.ConnectionString.Hosts)}{(o.ReplicaSet is { } set ? $" (set {set})" : "")}"
        : "";

    /// <inheritdoc />
    public object ReadOptions(ConfigObjectReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader;
        MongoConnectionString? connection = null;
        if (SecretField.Read(r, "connectionString", required: true) is { } text)
        {
            if (!MongoConnectionString.TryParse(text, out connection, out string? problem))
            {
                // The value is never quoted: it may hold a password.
                r.Error(r.Has("connectionString") ? "connectionString" : r.Has("connectionStringEnv") ? "connectionStringEnv" : "connectionStringFile", null, problem!);
            }
        }

        string? set = r.String("replicaSet");
        if (set is { Length: 0 })
        {
            r.Error("replicaSet", "\"\"", "must be the replica set's name, e.g. \"rs0\" (leave it out to accept the connection string's replicaSet)");
            set = null;
        }

        int? expected = (int?)r.Integer("expectedMembers", 1, 50);
        var maxLag = ReadLag(r, "maxLag") ?? TimeSpan.FromSeconds(30);
        var criticalLag = ReadLag(r, "criticalLag");
        if (criticalLag is { } c && c < maxLag)
        {
            r.Error("criticalLag", ConfigObjectReader.Quote(Duration.Format(c)), $"must be at least maxLag ({Duration.Format(maxLag)})");
        }

        return connection is null
            ? new object()
            : new MongoDbReplicaSetOptions
            {
                ConnectionString = connection,
                ReplicaSet = set ?? connection.ReplicaSet,
                ExpectedMembers = expected,
                MaxLag = maxLag,
                CriticalLag = criticalLag ?? maxLag * 2,
            };
    }

    private static TimeSpan? ReadLag(ConfigObjectReader r, string field)
    {
        if (r.Raw(field) is { ValueKind: System.Text.Json.JsonValueKind.String } raw && raw.GetString()!.TrimStart().StartsWith('-'))
        {
            r.Error(field, ConfigObjectReader.Quote(raw.GetString()!), $"must not be negative: a duration from 1s to {Duration.Format(MaxLagLimit)}, e.g. 30s");
            return null;
        }

        return r.Duration(field, TimeSpan.FromSeconds(1), MaxLagLimit);
    }

    /// <inheritdoc />
    public async Task<RunOutcome> RunAsync(CheckDefinition check, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(check);
        var o = (MongoDbReplicaSetOptions)check.Options;
        var connection = o.ConnectionString;
        var selection = check.Timeout * 0.7;
        using var lease = _clients.Rent(
            string.Create(CultureInfo.InvariantCulture, $"{selection.Ticks}|{connection.Value}"),
            () => CreateClient(connection, selection));
        var client = lease.Client;
        using var deadline = new CancellationTokenSource(check.Timeout * 0.9, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellationToken);
        string hosts = string.Join(",", connection.Hosts);
        BsonDocument answer;
        try
        {
            answer = await ReplSetGetStatusAsync(client, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return Unknown($"no answer to replSetGetStatus from {hosts} within {ReplicaSetVerdict.Seconds(check.Timeout * 0.9)}", client, connection);
        }
        catch (MongoAuthenticationException)
        {
            return Unknown($"authentication refused{(connection.User is { } user ? $" for user \"{user}\"" : "")} by {hosts} (check the user, password and authSource)", client, connection);
        }
        catch (MongoCommandException ex) when (ex.Code == 76)
        {
            return Unknown($"not a replica set: {hosts} answered replSetGetStatus with NoReplicationEnabled (the server runs without --replSet)", client, connection);
        }
        catch (MongoCommandException ex) when (ex.Code == 13)
        {
            return Unknown($"not authorized to run replSetGetStatus on {hosts}: the user needs the clusterMonitor role ({connection.Scrub(ex.ErrorMessage ?? "")})", client, connection);
        }
        catch (MongoCommandException ex)
        {
            return Unknown($"replSetGetStatus failed: {ex.CodeName} ({ex.Code}): {connection.Scrub(ex.ErrorMessage ?? "")}", client, connection);
        }
        catch (TimeoutException)
        {
            return Unknown($"cannot reach the replica set: no member of {hosts} could be selected within {ReplicaSetVerdict.Seconds(selection)} ({ServerSummary(client, connection)})", client, connection);
        }
        catch (MongoConnectionException ex)
        {
            return Unknown($"connection to {hosts} failed: {connection.Scrub(Innermost(ex).Message)}", client, connection);
        }
        catch (MongoException ex)
        {
            return Unknown($"MongoDB error from {hosts}: {ex.GetType().Name}: {connection.Scrub(ex.Message)}", client, connection);
        }

        ReplicaSetStatus status;
        try
        {
            status = ReplicaSetStatus.Parse(answer);
        }
        catch (FormatException ex)
        {
            return Unknown($"{hosts}: {ex.Message}", client, connection);
        }

        return ReplicaSetVerdict.Judge(status, o);
    }

    private static async Task<BsonDocument> ReplSetGetStatusAsync(MongoClient client, CancellationToken ct)
    {
        var admin = client.GetDatabase("admin");
        var command = new BsonDocument("replSetGetStatus", 1);
        BsonDocument answer;
        try
        {
            answer = await admin.RunCommandAsync<BsonDocument>(command, ReadPreference.PrimaryPreferred, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is (MongoConnectionException and not MongoAuthenticationException) or MongoConnectionPoolPausedException)
        {
            // The driver's view may still name a member that just went away, or one it has just marked unknown (its pool
            // paused: e.g. when a second PRIMARY shows up): it learns from the failure, so ask once more.
            answer = await admin.RunCommandAsync<BsonDocument>(command, ReadPreference.PrimaryPreferred, ct).ConfigureAwait(false);
        }

        // A member that is not PRIMARY answered (the driver had not found the PRIMARY yet, just after connecting) while it
        // sees a healthy PRIMARY: that PRIMARY's view is the one that counts (a partitioned member sees itself healthy and
        // the others down), so ask it; keep the first answer if it cannot be asked.
        if (answer.GetValue("myState", 0).ToInt32() != 1
            && answer.GetValue("members", new BsonArray()) is BsonArray members
            && members.OfType<BsonDocument>().Any(m => m.GetValue("state", 0).ToInt32() == 1 && m.GetValue("health", 0).ToDouble() >= 1))
        {
            try
            {
                return await admin.RunCommandAsync<BsonDocument>(command, ReadPreference.Primary, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is MongoException or TimeoutException)
            {
                return answer;
            }
        }

        return answer;
    }

    private static MongoClient CreateClient(MongoConnectionString connection, TimeSpan selection)
    {
        var settings = MongoClientSettings.FromUrl(connection.Url);
        settings.ReplicaSetName = null;
        settings.ReadPreference = ReadPreference.PrimaryPreferred;
        settings.ServerSelectionTimeout = selection;
        settings.ConnectTimeout = selection < MaxConnectTimeout ? selection : MaxConnectTimeout;
        settings.MaxConnectionPoolSize = 4;
        settings.ApplicationName ??= "tocsin";
        settings.LoggingSettings = null;
        settings.TracingOptions = new TracingOptions { Disabled = true };
        return new MongoClient(settings);
    }

    private static RunOutcome Unknown(string message, MongoClient client, MongoConnectionString connection)
    {
        var servers = new JsonArray();
        foreach (var s in client.Cluster.Description.Servers)
        {
            servers.Add(new JsonObject
            {
                ["address"] = Address(s.EndPoint),
                ["type"] = s.Type.ToString(),
                ["state"] = s.State.ToString(),
                ["error"] = s.HeartbeatException is { } e ? connection.Scrub(Innermost(e).Message) : null,
            });
        }

        return new RunOutcome(CheckState.UNKNOWN, connection.Scrub(message), null, new JsonObject { ["servers"] = servers });
    }

    private static string ServerSummary(MongoClient client, MongoConnectionString connection)
    {
        var servers = client.Cluster.Description.Servers;
        return servers.Count == 0
            ? "no server known"
            : string.Join(", ", servers.Select(s => $"{Address(s.EndPoint)}: {(s.HeartbeatException is { } e ? connection.Scrub(Innermost(e).Message) : $"{s.Type}, {s.State}")}"));
    }

    private static string Address(EndPoint endPoint) => endPoint switch
    {
        DnsEndPoint d => string.Create(CultureInfo.InvariantCulture, $"{d.Host}:{d.Port}"),
        IPEndPoint i => i.ToString(),
        _ => endPoint.ToString() ?? "",
    };

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is { } inner)
        {
            e = inner;
        }

        return e;
    }

    /// <summary>Disposes the cached driver clients.</summary>
    public void Dispose() => _clients.Dispose();
}
