using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Tocsin.Checks;
using Tocsin.Checks.MongoDbReplicaSet;
using Tocsin.Configuration;
using Tocsin.Diagnostics;
using Tocsin.MongoEmulator;
using Tocsin.Scheduling;
using Emulator = Tocsin.MongoEmulator.MongoEmulator;

namespace Tocsin.Core.Tests.Checks.MongoDbReplicaSet;

/// <summary>
/// The <c>mongodb-replicaset</c> check against the emulated replica set, through the real MongoDB driver and the real
/// executor (timeouts included).
/// </summary>
public sealed class MongoDbReplicaSetRunnerTests : IAsyncLifetime
{
    private const string Password = "Pw-0123456789-secret";

    private readonly MongoDbReplicaSetCheckKind _kind = new(TimeProvider.System);
    private readonly CheckExecutor _executor;
    private readonly ConfigLoader _loader;
    private Emulator _mongo = null!;

    public MongoDbReplicaSetRunnerTests()
    {
        var kinds = new CheckKindRegistry([_kind]);
        _loader = new ConfigLoader(kinds);
        _executor = new CheckExecutor(kinds, TimeProvider.System, new TocsinMetrics(), NullLogger<CheckExecutor>.Instance);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _mongo = await Emulator.StartAsync(cancellationToken: Ct);

    public async ValueTask DisposeAsync()
    {
        _kind.Dispose();
        await _mongo.DisposeAsync();
    }

    private CheckDefinition Check(string extra = "", string? connectionString = null, string timeout = "8s") =>
        Assert.Single(_loader.Parse($$"""
            { "checks": [{ "name": "rs", "kind": "mongodb-replicaset", "interval": "1m", "timeout": "{{timeout}}",
                           "connectionString": "{{connectionString ?? _mongo.ConnectionString}}" {{extra}} }] }
            """, "/tocsin-tests/config.json").Checks);

    private Task<CheckResult> RunAsync(CheckDefinition check) => _executor.RunAsync(check, DateTimeOffset.UtcNow, Ct);

    private static JsonArray Members(CheckResult r) => r.Details!["members"]!.AsArray();

    [Fact]
    public async Task A_healthy_set_of_three_is_ok_with_members_lag_and_perfdata()
    {
        var check = Check(""", "expectedMembers": 3""");
        var r = await RunAsync(check);
        Assert.Equal(CheckState.OK, r.State);
        Assert.StartsWith("replica set rs0: 3 members healthy: ", r.Message, StringComparison.Ordinal);
        Assert.Contains($"{_mongo.Members[0].Host} PRIMARY", r.Message, StringComparison.Ordinal);
        Assert.Contains($"{_mongo.Members[1].Host} SECONDARY lag 0s", r.Message, StringComparison.Ordinal);
        var members = Members(r);
        Assert.Equal(3, members.Count);
        Assert.Equal(["PRIMARY", "SECONDARY", "SECONDARY"], members.Select(m => (string)m!["state"]!));
        Assert.All(members, m => Assert.Equal(1, (int)m!["health"]!));
        Assert.Null(members[0]!["lagSeconds"]);
        Assert.Equal(0.0, (double)members[1]!["lagSeconds"]!);
        Assert.Equal("rs0", (string)r.Details!["set"]!);
        var perfdata = r.Details!["perfdata"]!.AsArray();
        var maxLag = Assert.Single(perfdata, p => (string)p!["label"]! == "max_lag")!;
        Assert.Equal(0.0, (double)maxLag["value"]!);
        Assert.Equal("s", (string)maxLag["unit"]!);
        Assert.Equal("30", (string)maxLag["warn"]!);
        Assert.Equal("60", (string)maxLag["crit"]!);
        Assert.Equal(3.0, (double)Assert.Single(perfdata, p => (string)p!["label"]! == "healthy_members")!["value"]!);

        // The driver client is kept for the next run.
        Assert.Equal(CheckState.OK, (await RunAsync(check)).State);
        Assert.Equal(1, _kind.CachedClients);
    }

    [Fact]
    public async Task No_primary_is_critical_and_still_read_from_a_secondary()
    {
        _mongo.SetStates(MongoMemberState.Secondary, MongoMemberState.Secondary, MongoMemberState.Secondary);
        var r = await RunAsync(Check());
        Assert.Equal(CheckState.CRITICAL, r.State);
        Assert.Contains("no PRIMARY", r.Message, StringComparison.Ordinal);
        Assert.Equal(["SECONDARY", "SECONDARY", "SECONDARY"], Members(r).Select(m => (string)m!["state"]!));
    }

    [Fact]
    public async Task Two_primaries_are_critical()
    {
        _mongo.SetStates(MongoMemberState.Primary, MongoMemberState.Secondary, MongoMemberState.Primary);
        var r = await RunAsync(Check());
        Assert.True(r.State == CheckState.CRITICAL, r.Message);
        Assert.Contains($"2 PRIMARY members ({_mongo.Members[0].Host}, {_mongo.Members[2].Host})", r.Message, StringComparison.Ordinal);
        Assert.Equal(2, r.Details!["primaries"]!.AsArray().Count);
    }

    [Fact]
    public async Task One_member_down_of_three_is_a_warning_while_the_majority_holds()
    {
        await _mongo.Members[2].GoDownAsync();
        var r = await RunAsync(Check());
        Assert.Equal(CheckState.WARNING, r.State);
        Assert.Contains($"1 member(s) not healthy, majority holds ({_mongo.Members[2].Host} (not reachable/healthy) health 0)", r.Message, StringComparison.Ordinal);
        var down = Members(r)[2]!;
        Assert.Equal(0, (int)down["health"]!);
        Assert.Equal(8, (int)down["stateCode"]!);
        Assert.Null(down["lagSeconds"]);
        Assert.Contains("Connection refused", (string)down["message"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_members_down_of_three_lose_the_majority_and_are_critical()
    {
        await _mongo.Members[1].GoDownAsync();
        _mongo.Members[2].Healthy = false; // partitioned: up, but the others see it down
        var r = await RunAsync(Check());
        Assert.True(r.State == CheckState.CRITICAL, r.Message + " " + r.Details?.ToJsonString());
        Assert.Contains("majority lost: 1 of 3 members healthy, 2 needed", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_recovering_member_is_a_warning()
    {
        _mongo.Members[1].State = MongoMemberState.Recovering;
        var r = await RunAsync(Check());
        Assert.Equal(CheckState.WARNING, r.State);
        Assert.Contains($"{_mongo.Members[1].Host} RECOVERING", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lag_over_maxLag_is_a_warning_and_over_criticalLag_critical()
    {
        _mongo.Members[1].Lag = TimeSpan.FromSeconds(45);
        var r = await RunAsync(Check());
        Assert.Equal(CheckState.WARNING, r.State);
        Assert.Contains($"{_mongo.Members[1].Host} lags 45s (> 30s)", r.Message, StringComparison.Ordinal);
        Assert.Equal(45.0, (double)Members(r)[1]!["lagSeconds"]!, 0.01);
        Assert.Equal(45.0, (double)r.Details!["maxLagSeconds"]!, 0.01);

        _mongo.Members[2].Lag = TimeSpan.FromMinutes(5);
        r = await RunAsync(Check(""", "maxLag": "1m", "criticalLag": "4m" """));
        Assert.Equal(CheckState.CRITICAL, r.State);
        Assert.Contains($"{_mongo.Members[2].Host} lags 300s (> 240s)", r.Message, StringComparison.Ordinal);
        Assert.DoesNotContain($"{_mongo.Members[1].Host} lags", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_member_count_other_than_expected_is_a_warning()
    {
        var r = await RunAsync(Check(""", "expectedMembers": 5"""));
        Assert.Equal(CheckState.WARNING, r.State);
        Assert.Contains("3 members, expected 5", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Another_set_name_is_critical_whether_expected_by_option_or_by_the_uri()
    {
        var r = await RunAsync(Check(""", "replicaSet": "rs-prod" """));
        Assert.Equal(CheckState.CRITICAL, r.State);
        Assert.Contains("set name is \"rs0\", expected \"rs-prod\"", r.Message, StringComparison.Ordinal);

        var check = Check(); // the URI says replicaSet=rs0
        _mongo.SetName = "other";
        r = await RunAsync(check);
        Assert.Equal(CheckState.CRITICAL, r.State);
        Assert.Contains("set name is \"other\", expected \"rs0\"", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_is_not_a_replica_set_is_unknown()
    {
        await using var standalone = await Emulator.StartAsync(new MongoEmulatorOptions { Members = 1, ReplicationEnabled = false }, Ct);
        var r = await RunAsync(Check(connectionString: standalone.ConnectionString));
        Assert.Equal(CheckState.UNKNOWN, r.State);
        Assert.Contains("not a replica set", r.Message, StringComparison.Ordinal);
        Assert.Contains("NoReplicationEnabled", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_port_is_unknown_not_a_timeout_and_the_password_is_not_shown()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        var r = await RunAsync(Check(connectionString: $"mongodb://monitor:{Password}@127.0.0.1:{port}/?replicaSet=rs0", timeout: "3s"));
        Assert.Equal(CheckState.UNKNOWN, r.State); // reported by the check before the executor's timeout (CRITICAL "timed out")
        Assert.True(r.Message.Contains($"cannot reach the replica set: no member of 127.0.0.1:{port} could be selected within 2.1s", StringComparison.Ordinal), r.Message);
        Assert.Contains("Connection refused", r.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Password, r.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, r.Details!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refused_authentication_is_unknown_and_the_password_is_not_shown()
    {
        string uri = _mongo.ConnectionString.Replace("mongodb://", $"mongodb://monitor:{Password}@", StringComparison.Ordinal) + "&authSource=admin";
        var check = Check(connectionString: uri);
        var r = await RunAsync(check);
        Assert.Equal(CheckState.UNKNOWN, r.State);
        Assert.Contains("authentication refused for user \"monitor\"", r.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, r.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, r.Details!.ToJsonString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Password, _kind.Describe(check.Options), StringComparison.Ordinal);
        Assert.True(_mongo.CommandCount("saslStart") >= 1);
    }

    [Fact]
    public async Task A_member_that_went_down_since_the_last_run_is_reported_by_the_next()
    {
        var check = Check();
        Assert.Equal(CheckState.OK, (await RunAsync(check)).State);
        await _mongo.Members[0].GoDownAsync();
        _mongo.Members[1].State = MongoMemberState.Primary;
        var r = await RunAsync(check);
        Assert.Equal(CheckState.WARNING, r.State);
        Assert.Contains($"{_mongo.Members[0].Host} (not reachable/healthy) health 0", r.Message, StringComparison.Ordinal);
        Assert.Equal([_mongo.Members[1].Host], r.Details!["primaries"]!.AsArray().Select(p => (string)p!));
    }
}
