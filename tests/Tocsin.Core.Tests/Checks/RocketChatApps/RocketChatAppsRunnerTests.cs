using Tocsin.Checks;
using Tocsin.Checks.RocketChatApps;
using Tocsin.Configuration;
using Tocsin.RocketChatEmulator;
using Emulator = Tocsin.RocketChatEmulator.RocketChatEmulator;

namespace Tocsin.Core.Tests.Checks.RocketChatApps;

/// <summary>The <c>rocketchat-apps</c> runner against the emulated 3-instance cluster (real HTTP on loopback).</summary>
public sealed class RocketChatAppsRunnerTests : IAsyncLifetime
{
    private static readonly RocketChatApp ClamAv = new("clamav-id", "ClamAV");
    private static readonly RocketChatApp Poll = new("poll-id", "Poll");

    private Emulator _chat = null!;
    private RocketChatUser _admin = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _chat = await Emulator.StartAsync(new RocketChatEmulatorOptions { Instances = 3 }, Ct);
        _admin = _chat.State.AddUser("admin");
    }

    public async ValueTask DisposeAsync() => await _chat.DisposeAsync();

    private CheckDefinition Check(string extra = "", string? pat = null) =>
        Assert.Single(new ConfigLoader(CheckKinds.CreateDefault(TimeProvider.System)).Parse($$"""
            { "checks": [{ "name": "apps", "kind": "rocketchat-apps", "interval": "5m", "timeout": "30s",
                           "serverUrl": "{{_chat.BaseAddress}}", "userId": "{{_admin.Id}}", "pat": "{{pat ?? _admin.Pat}}" {{extra}} }] }
            """, "/tocsin-tests/config.json").Checks);

    private static Task<RunOutcome> RunAsync(CheckDefinition check, bool leader = true) =>
        new RocketChatAppsCheckKind(TimeProvider.System) { CanRemediate = () => leader }.RunAsync(check, Ct);

    private int Posts() => _chat.Instances.Sum(i => i.CallCount(RocketChatEndpoints.AppStatusChange));

    [Fact]
    public async Task A_consistent_cluster_is_ok_and_nothing_is_changed()
    {
        _chat.InstallAppPerInstance(ClamAv, "auto_enabled", "manually_enabled", "auto_enabled");
        _chat.InstallApp(Poll, "manually_disabled");
        var outcome = await RunAsync(Check());
        Assert.Equal(CheckState.OK, outcome.State);
        Assert.Equal("2 app(s) on 3 instance(s): consistent", outcome.Message);
        Assert.Equal(0, Posts());
        Assert.Equal(3, outcome.Details!["instances"]!.AsArray().Count);
    }

    [Fact]
    public async Task Drift_on_one_instance_is_fixed_there_only_and_verified_within_the_round()
    {
        _chat.InstallAppPerInstance(ClamAv, "auto_enabled", "manually_disabled", "manually_enabled");
        var outcome = await RunAsync(Check());
        Assert.Equal(CheckState.WARNING, outcome.State);
        Assert.Contains("drift fixed and verified: enabled ClamAV (clamav-id) on " + _chat.Instances[1].BaseAddress.GetLeftPart(UriPartial.Authority), outcome.Message, StringComparison.Ordinal);
        Assert.Equal(["auto_enabled", "manually_enabled", "manually_enabled"], _chat.AppStatuses(ClamAv.Id));
        Assert.Equal(1, _chat.Instances[1].CallCount(RocketChatEndpoints.AppStatusChange));
        Assert.Equal(1, Posts()); // auto_enabled is enabled: never "fixed"
        var next = await RunAsync(Check());
        Assert.Equal(CheckState.OK, next.State);
        Assert.DoesNotContain(_admin.Pat, outcome.Message + outcome.Details!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_enable_that_does_not_stick_is_tried_max_attempts_times_then_critical()
    {
        _chat.InstallAppPerInstance(ClamAv, "manually_enabled", "manually_disabled", "manually_enabled");
        _chat.Instances[1].FailStatusChanges(ClamAv.Id, RocketChatStatusChangeFailure.DoesNotStick);
        var outcome = await RunAsync(Check(""", "maxAttempts": 2"""));
        Assert.Equal(CheckState.CRITICAL, outcome.State);
        Assert.Contains("could not enable ClamAV (clamav-id)", outcome.Message, StringComparison.Ordinal);
        Assert.Equal(2, Posts());
    }

    [Fact]
    public async Task A_dead_instance_is_critical_and_the_round_goes_on()
    {
        _chat.InstallAppPerInstance(ClamAv, "manually_enabled", "manually_enabled", "manually_disabled");
        await _chat.Instances[0].GoDownAsync();
        var outcome = await RunAsync(Check($$""", "discovery": { "type": "static", "urls": [{{string.Join(", ", _chat.Instances.Select(i => $"\"{i.BaseAddress}\""))}}] }"""));
        Assert.Equal(CheckState.CRITICAL, outcome.State);
        Assert.Contains("unreachable: " + _chat.Instances[0].BaseAddress.GetLeftPart(UriPartial.Authority), outcome.Message, StringComparison.Ordinal);
        Assert.Contains("drift fixed and verified", outcome.Message, StringComparison.Ordinal);
        Assert.Equal("manually_enabled", _chat.Instances[2].AppStatus(ClamAv.Id));
    }

    [Fact]
    public async Task A_refused_pat_is_unknown_and_never_shown()
    {
        _chat.InstallApp(ClamAv);
        var outcome = await RunAsync(Check(pat: "wrong-pat-value"));
        Assert.Equal(CheckState.UNKNOWN, outcome.State);
        Assert.Contains("refused the user id and PAT", outcome.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-pat-value", outcome.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dry_run_and_a_follower_report_what_they_would_do_and_change_nothing()
    {
        _chat.InstallAppPerInstance(ClamAv, "manually_enabled", "manually_disabled", "manually_enabled");
        var dry = await RunAsync(Check(""", "dryRun": true"""));
        Assert.Equal(CheckState.WARNING, dry.State);
        Assert.Contains("drift (dry run, not fixed): ClamAV (clamav-id)", dry.Message, StringComparison.Ordinal);
        var follower = await RunAsync(Check(), leader: false);
        Assert.Contains("another agent fixes it", follower.Message, StringComparison.Ordinal);
        Assert.Equal(0, Posts());
        Assert.Equal("manually_disabled", _chat.Instances[1].AppStatus(ClamAv.Id));
    }
}
