using Microsoft.Extensions.Time.Testing;
using Tocsin.Checks;
using Tocsin.Checks.RocketChatInstances;
using Tocsin.Configuration;
using Tocsin.RocketChatEmulator;
using Emulator = Tocsin.RocketChatEmulator.RocketChatEmulator;

namespace Tocsin.Core.Tests.Checks.RocketChatInstances;

/// <summary>The <c>rocketchat-instances</c> check against the emulated 3-instance cluster (real HTTP on loopback).</summary>
public sealed class RocketChatInstancesCheckTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero));
    private Emulator _chat = null!;
    private RocketChatUser _admin = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _chat = await Emulator.StartAsync(new RocketChatEmulatorOptions { Instances = 3, Time = _time }, Ct);
        _admin = _chat.State.AddUser("admin");
    }

    public async ValueTask DisposeAsync() => await _chat.DisposeAsync();

    private static ConfigLoader Loader => new(CheckKinds.CreateDefault(TimeProvider.System));

    private CheckDefinition Check(string extra = "", bool credentials = true) =>
        Assert.Single(Loader.Parse($$"""
            { "checks": [{ "name": "rc", "kind": "rocketchat-instances", "serverUrl": "{{_chat.BaseAddress}}"
                           {{(credentials ? $", \"userId\": \"{_admin.Id}\", \"pat\": \"{_admin.Pat}\"" : "")}} {{extra}} }] }
            """, "/tocsin-tests/config.json").Checks);

    private Task<RunOutcome> RunAsync(CheckDefinition check) => new RocketChatInstancesCheckKind(_time).RunAsync(check, Ct);

    private string Address(int i) => _chat.Instances[i].BaseAddress.GetLeftPart(UriPartial.Authority);

    [Fact]
    public async Task Three_healthy_instances_of_one_version_are_ok()
    {
        var outcome = await RunAsync(Check(""", "expectedInstances": 3"""));
        Assert.Equal(CheckState.OK, outcome.State);
        Assert.Equal("3/3 instances answer, version 6.13.0", outcome.Message);
        var rows = outcome.Details!["instances"]!.AsArray();
        Assert.Equal(3, rows.Count);
        Assert.All(rows, r => Assert.True(r!["connected"]!.GetValue<bool>()));
        Assert.Equal(_chat.Instances[0].Id, rows[0]!["id"]!.GetValue<string>());
        Assert.Equal(3, _chat.Instances.Sum(i => i.CallCount(RocketChatEndpoints.Info)));
        Assert.DoesNotContain(_admin.Pat, outcome.Message + outcome.Details.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_down_instance_is_a_warning_while_two_answer_and_critical_when_only_one_does()
    {
        await _chat.Instances[2].GoDownAsync();
        var outcome = await RunAsync(Check(""", "expectedInstances": 3"""));
        Assert.Equal(CheckState.WARNING, outcome.State);
        Assert.Contains("2 of 3 expected instances answer", outcome.Message, StringComparison.Ordinal);
        Assert.Contains($"not answering: {Address(2)}: cannot reach", outcome.Message, StringComparison.Ordinal);
        Assert.Contains($"instances.get lists {Address(2)} ({_chat.Instances[2].Id}) as not connected", outcome.Message, StringComparison.Ordinal);

        await _chat.Instances[1].GoDownAsync();
        var worse = await RunAsync(Check(""", "expectedInstances": 3"""));
        Assert.Equal(CheckState.CRITICAL, worse.State);
        Assert.Contains("only 1 instance answers /api/info: no high availability left", worse.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fewer_instances_than_expected_is_a_warning_and_an_expectation_of_one_is_met_by_one()
    {
        var outcome = await RunAsync(Check(""", "expectedInstances": 4"""));
        Assert.Equal(CheckState.WARNING, outcome.State);
        Assert.Contains("3 of 4 expected instances answer", outcome.Message, StringComparison.Ordinal);

        var single = await RunAsync(Check($$""", "expectedInstances": 1, "discovery": { "type": "static", "urls": ["{{Address(0)}}"] }""", credentials: false));
        Assert.Equal(CheckState.OK, single.State);
        Assert.Equal("1/1 instances answer, version 6.13.0", single.Message);
    }

    [Fact]
    public async Task Different_versions_are_a_warning_naming_which_instance_runs_which()
    {
        _chat.Instances[1].Version = "6.12.1";
        var outcome = await RunAsync(Check());
        Assert.Equal(CheckState.WARNING, outcome.State);
        Assert.Contains($"versions differ: 6.13.0 on {Address(0)}, {Address(2)}; 6.12.1 on {Address(1)}", outcome.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_listed_instance_with_a_stale_heartbeat_is_a_warning_and_one_not_answering_is_named()
    {
        var stale = _chat.State.AddPhantomInstance("127.0.0.1", 9, connected: true, lastHeartbeat: _time.GetUtcNow() - TimeSpan.FromMinutes(3));
        var outcome = await RunAsync(Check(""", "maxHeartbeatAge": "30s", "instanceTimeout": "2s" """));
        Assert.Equal(CheckState.WARNING, outcome.State);
        Assert.StartsWith("3/4 instances answer", outcome.Message, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:9 ({stale.Id}) last heartbeat 3m ago (max 30s)", outcome.Message, StringComparison.Ordinal);
        Assert.Contains("not answering: http://127.0.0.1:9: cannot reach", outcome.Message, StringComparison.Ordinal);
        Assert.DoesNotContain($"{Address(1)} ({_chat.Instances[1].Id}) last heartbeat", outcome.Message, StringComparison.Ordinal);
        Assert.Equal(180, outcome.Details!["instances"]!.AsArray()[3]!["heartbeatAgeSeconds"]!.GetValue<double>());
    }

    [Fact]
    public async Task A_slow_instance_is_reported_after_its_own_timeout_and_the_others_are_still_judged()
    {
        _chat.Instances[1].Delay = TimeSpan.FromSeconds(20);
        var outcome = await new RocketChatInstancesCheckKind(TimeProvider.System).RunAsync(Check(""", "instanceTimeout": "300ms" """), Ct);
        Assert.Equal(CheckState.WARNING, outcome.State);
        Assert.Contains($"not answering: {Address(1)}: no answer within 300ms", outcome.Message, StringComparison.Ordinal);
        Assert.StartsWith("2/3 instances answer", outcome.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_pat_is_unknown_and_static_discovery_works_without_credentials()
    {
        var refused = await RunAsync(Assert.Single(Loader.Parse($$"""
            { "checks": [{ "name": "rc", "kind": "rocketchat-instances", "serverUrl": "{{_chat.BaseAddress}}", "userId": "{{_admin.Id}}", "pat": "wrong-pat" }] }
            """, "/tocsin-tests/config.json").Checks));
        Assert.Equal(CheckState.UNKNOWN, refused.State);
        Assert.Contains("refused the user id and PAT", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-pat", refused.Message, StringComparison.Ordinal);

        int listings = _chat.Instances.Sum(i => i.CallCount(RocketChatEndpoints.InstancesGet));
        var urls = string.Join(", ", _chat.Instances.Select(i => $"\"{i.BaseAddress}\""));
        var open = await RunAsync(Assert.Single(Loader.Parse($$"""
            { "checks": [{ "name": "rc", "kind": "rocketchat-instances", "discovery": { "type": "static", "urls": [{{urls}}] } }] }
            """, "/tocsin-tests/config.json").Checks));
        Assert.Equal(CheckState.OK, open.State);
        Assert.Equal(listings, _chat.Instances.Sum(i => i.CallCount(RocketChatEndpoints.InstancesGet))); // no credentials: not read
    }

    [Theory]
    [InlineData("""  "userId": "u", "pat": "p" """, "field \"serverUrl\": is required")]
    [InlineData("""  "serverUrl": "https://x" """, "field \"userId\": is required")]
    [InlineData("""  "discovery": { "type": "static", "urls": ["http://a:3000"] }, "userId": "u" """, "give both \"userId\" and \"pat\"")]
    [InlineData("""  "discovery": { "type": "static", "urls": ["http://a:3000"] }, "userId": "u", "pat": "p" """, "instances.get is read there")]
    [InlineData("""  "serverUrl": "https://x", "userId": "u", "pat": "p", "expectedInstances": 0 """, "expectedInstances")]
    [InlineData("""  "serverUrl": "https://x", "userId": "u", "pat": "p", "maxHeartbeatAge": "1s" """, "maxHeartbeatAge")]
    [InlineData("""  "serverUrl": "https://x", "userId": "u", "pat": "p", "instanceTimeout": "10ms" """, "instanceTimeout")]
    public void Bad_options_are_refused_with_the_field_named(string fields, string expected)
    {
        var errors = Assert.Throws<ConfigException>(() => Loader.Parse($$"""
            { "checks": [{ "name": "rc", "kind": "rocketchat-instances", {{fields}} }] }
            """, "/tocsin-tests/config.json")).Errors;
        Assert.Contains(errors, e => e.ToString().Contains(expected, StringComparison.Ordinal));
    }
}
