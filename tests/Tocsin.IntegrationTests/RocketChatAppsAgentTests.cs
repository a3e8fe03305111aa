using System.Text.Json.Nodes;
using Tocsin.IntegrationTests.Fixtures;
using Tocsin.RocketChatEmulator;
using Emulator = Tocsin.RocketChatEmulator.RocketChatEmulator;

namespace Tocsin.IntegrationTests;

/// <summary>
/// The <c>rocketchat-apps</c> check in a real <c>tocsin</c> process against the emulated 3-instance cluster: the apps monitor's
/// drop-in (its file and variables), <c>tocsin import apps-monitor</c>, and the alert room (one message per problem, one recovery).
/// </summary>
public sealed class RocketChatAppsAgentTests : IAsyncLifetime
{
    private static readonly RocketChatApp ClamAv = new("clamav-id", "ClamAV");
    private readonly TempFolder _folder = new();
    private Emulator _chat = null!;
    private RocketChatUser _bot = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _chat = await Emulator.StartAsync(new RocketChatEmulatorOptions { Instances = 3 }, Ct);
        _bot = _chat.State.AddUser("apps-monitor");
    }

    public async ValueTask DisposeAsync()
    {
        await _chat.DisposeAsync();
        _folder.Dispose();
    }

    [Fact]
    public async Task The_apps_monitor_drop_in_runs_from_its_file_over_its_variables_and_never_prints_the_pat_even_at_trace()
    {
        _chat.InstallAppPerInstance(ClamAv, "manually_enabled", "manually_disabled", "auto_enabled");
        _folder.Write("apps-monitor-config.json", $$"""
            { "serverURL": "{{_chat.BaseAddress}}", "userPAT": "{{_bot.Pat}}", "interval": 10000 }
            """);
        var env = new Dictionary<string, string?>
        {
            ["SERVER_URL"] = "http://127.0.0.1:9/", // the file's serverURL wins
            ["USER_ID"] = _bot.Id, // the file has none: taken from the environment
            ["USER_PAT"] = "not-the-pat",
            ["LOG_LEVEL"] = "trace",
        };

        var run = await TocsinProcess.RunAsync(_folder.Path, env, "start", "--once");

        Assert.True(run.ExitCode == 1, run.ToString()); // WARNING: drift found and fixed
        Assert.Contains("running the Rocket.Chat apps monitor from", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("interval 10000 ms is under 30000 ms: ignored", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("drift fixed and verified", run.Stdout, StringComparison.Ordinal);
        Assert.Equal(["manually_enabled", "manually_enabled", "auto_enabled"], _chat.AppStatuses(ClamAv.Id));
        Assert.All(_chat.Instances.SelectMany(i => i.Calls).Where(c => c.UserId is not null), c => Assert.Equal(_bot.Id, c.UserId));
        Assert.DoesNotContain(_bot.Pat, run.Stdout + run.Stderr, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Join(_folder.Path, ".tocsin", "local.db")));
    }

    [Fact]
    public async Task The_drop_in_names_what_is_missing_and_a_tocsin_configuration_wins_over_it()
    {
        var missing = await TocsinProcess.RunAsync(_folder.Path, new Dictionary<string, string?> { ["SERVER_URL"] = _chat.BaseAddress.ToString() }, "start", "--once");
        Assert.True(missing.ExitCode == 78, missing.ToString());
        Assert.Contains("lack userId (USER_ID), userPAT (USER_PAT)", missing.Stderr, StringComparison.Ordinal);

        // With a Tocsin configuration at the default path, the apps monitor's settings are not used.
        string config = AgentConfig.Write(_folder);
        var run = await TocsinProcess.RunAsync(_folder.Path, new Dictionary<string, string?> { ["SERVER_URL"] = _chat.BaseAddress.ToString(), ["TOCSIN_CONFIG"] = config }, "start", "--once");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.DoesNotContain("apps monitor", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Import_writes_the_equivalent_check_with_the_pat_read_from_the_same_variable()
    {
        Directory.CreateDirectory(_folder.File("old"));
        string file = _folder.Write("old/apps-monitor-config.json", $$"""
            { "serverURL": "{{_chat.BaseAddress}}", "userId": "{{_bot.Id}}", "interval": 600000, "appId": "{{ClamAv.Id}}", "alertRoom": "ROOM1" }
            """);
        var env = new Dictionary<string, string?> { ["USER_PAT"] = _bot.Pat };
        string config = Path.Join(_folder.Path, "tocsin.json");

        var printed = await TocsinProcess.RunAsync(_folder.Path, env, "import", "apps-monitor", file, "--print");
        Assert.True(printed.ExitCode == 0, printed.ToString());
        var check = JsonNode.Parse(printed.Stdout)!.AsObject();
        Assert.Equal("rocketchat-apps", check["kind"]!.GetValue<string>());
        Assert.Equal("10m", check["interval"]!.GetValue<string>());
        Assert.Equal("USER_PAT", check["patEnv"]!.GetValue<string>());
        Assert.Equal(ClamAv.Id, check["appIds"]![0]!.GetValue<string>());
        Assert.DoesNotContain(_bot.Pat, printed.Stdout, StringComparison.Ordinal);

        var added = await TocsinProcess.RunAsync(_folder.Path, env, "import", "apps-monitor", file, "--config-path", config);
        Assert.True(added.ExitCode == 0, added.ToString());
        Assert.Contains("Added check \"rocketchat-apps\"", added.Stdout, StringComparison.Ordinal);
        var again = await TocsinProcess.RunAsync(_folder.Path, env, "import", "apps-monitor", file, "--config-path", config);
        Assert.True(again.ExitCode == 73, again.ToString());
        Assert.Contains("pass --name", again.Stderr, StringComparison.Ordinal);

        // The imported check runs as the original did: drift fixed.
        _chat.InstallAppPerInstance(ClamAv, "manually_enabled", "manually_disabled", "manually_enabled");
        var run = await TocsinProcess.RunAsync(_folder.Path, env, "start", "--once", "--config-path", config);
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Equal(["manually_enabled", "manually_enabled", "manually_enabled"], _chat.AppStatuses(ClamAv.Id));
    }

    [Fact]
    public async Task An_unfixable_app_alerts_the_room_once_while_it_stays_broken_and_its_recovery_once()
    {
        var room = _chat.State.AddRoom("ops");
        _chat.InstallAppPerInstance(ClamAv, "manually_enabled", "manually_disabled", "manually_enabled");
        _chat.Instances[1].FailStatusChanges(ClamAv.Id, RocketChatStatusChangeFailure.DoesNotStick);
        string config = AgentConfig.Write(_folder, new JsonObject
        {
            // A 2 s round with 1.9 s to finish: the kind's default timeout of a 1 s interval (800 ms) was once too short
            // for a round on a loaded CI machine, and the room got "timed out" instead of the problem.
            ["name"] = "apps", ["kind"] = "rocketchat-apps", ["interval"] = "2s", ["timeout"] = "1900ms", ["serverUrl"] = _chat.BaseAddress.ToString(), ["userId"] = _bot.Id,
            ["patFile"] = _folder.Write("pat", _bot.Pat + "\n"), ["maxAttempts"] = 1, ["alertRoom"] = room.Id,
        });
        await using var agent = TocsinProcess.Start(_folder.Path, ["start", "--config-path", config]);
        string Seen() => string.Join(Environment.NewLine, _chat.State.Messages.Select(m => m.Text)) + Environment.NewLine + agent.Output;
        int Posts() => _chat.CallCount(RocketChatEndpoints.AppStatusChange);

        await Poll.UntilAsync(() => _chat.State.Messages.Count, n => n >= 1, TimeSpan.FromSeconds(60), "the problem in the alert room", Seen);
        var problem = Assert.Single(_chat.State.Messages);
        Assert.Equal(room.Id, problem.RoomId);
        Assert.Equal("chat.sendMessage", problem.Endpoint);
        Assert.Contains("CRITICAL: apps (problem)", problem.Text, StringComparison.Ordinal);
        Assert.Contains($"could not enable ClamAV (clamav-id) on {_chat.Instances[1].BaseAddress.GetLeftPart(UriPartial.Authority)} ({_chat.Instances[1].Id}): was manually_disabled, still manually_disabled after 1 attempt", problem.Text, StringComparison.Ordinal);

        // More rounds, each trying again, and still one message.
        int posts = Posts();
        await Poll.UntilAsync(Posts, n => n >= posts + 3, TimeSpan.FromSeconds(60), "three more rounds", Seen);
        Assert.Single(_chat.State.Messages);

        // Fixed at last: the round that fixes it is WARNING (drift fixed), the next OK: one recovery, and no second problem.
        _chat.Instances[1].FailStatusChanges(ClamAv.Id, RocketChatStatusChangeFailure.None);
        await Poll.UntilAsync(() => _chat.State.Messages.Select(m => m.Text).ToList(), t => t.Any(m => m.Contains("RECOVERED: apps", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(60), "the recovery in the alert room", Seen);
        Assert.Single(_chat.State.Messages, m => m.Text.Contains("CRITICAL: apps (problem)", StringComparison.Ordinal));
        Assert.Single(_chat.State.Messages, m => m.Text.Contains("RECOVERED: apps", StringComparison.Ordinal));
        Assert.All(_chat.State.Messages, m => Assert.Equal(room.Id, m.RoomId));
        Assert.DoesNotContain(_bot.Pat, agent.Output, StringComparison.Ordinal);
    }
}
