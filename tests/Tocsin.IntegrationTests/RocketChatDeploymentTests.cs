using System.Globalization;
using Tocsin.IntegrationTests.Fixtures;
using Tocsin.MongoEmulator;
using Tocsin.RocketChatEmulator;
using ChatEmulator = Tocsin.RocketChatEmulator.RocketChatEmulator;
using MongoReplicaSet = Tocsin.MongoEmulator.MongoEmulator;

namespace Tocsin.IntegrationTests;

/// <summary>
/// Issue 8's acceptance in one real <c>tocsin start --once</c>: the emulated 3-instance Rocket.Chat cluster (drift fixed within
/// the round), its instances, the emulated MongoDB replica set and a backup folder, judged together; then the same deployment
/// broken (a member down, the newest dump too old, an instance dead) judged again.
/// </summary>
public sealed class RocketChatDeploymentTests : IAsyncLifetime
{
    private static readonly RocketChatApp ClamAv = new("clamav-id", "ClamAV");
    private readonly TempFolder _folder = new();
    private ChatEmulator _chat = null!;
    private MongoReplicaSet _mongo = null!;
    private RocketChatUser _bot = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _chat = await ChatEmulator.StartAsync(new RocketChatEmulatorOptions { Instances = 3 }, Ct);
        _bot = _chat.State.AddUser("monitor");
        _mongo = await MongoReplicaSet.StartAsync(cancellationToken: Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _chat.DisposeAsync();
        await _mongo.DisposeAsync();
        _folder.Dispose();
    }

    private void Dump(TimeSpan age, int bytes = 4096)
    {
        string name = "dump-" + (DateTimeOffset.UtcNow - age).ToString("yyyy-MM-dd-HH:mm:ss", CultureInfo.InvariantCulture);
        File.WriteAllBytes(Path.Join(_folder.Path, "backups", name), new byte[bytes]);
    }

    private void WriteConfig()
    {
        string rc = $$"""
            "serverUrl": "{{_chat.BaseAddress}}", "userId": "{{_bot.Id}}", "patEnv": "RC_PAT",
            "discovery": { "type": "static", "urls": [{{string.Join(", ", _chat.Instances.Select(i => $"\"{i.BaseAddress}\""))}}] }
            """;
        _folder.Write("tocsin.json", $$"""
            {
              "timeZone": "UTC",
              "checks": [
                { "name": "apps", "kind": "rocketchat-apps", {{rc}} },
                { "name": "chat", "kind": "rocketchat-instances", {{rc}}, "expectedInstances": 3 },
                { "name": "mongo", "kind": "mongodb-replicaset", "connectionString": "{{_mongo.ConnectionString}}", "expectedMembers": 3, "maxLag": "10s" },
                { "name": "backups", "kind": "backup-freshness", "path": "backups", "maxAge": "26h", "keep": 7, "minSize": "1KB" }
              ]
            }
            """);
    }

    private Task<CliRun> OnceAsync() =>
        TocsinProcess.RunAsync(_folder.Path, new Dictionary<string, string?> { ["RC_PAT"] = _bot.Pat }, "start", "--once", "--config-path", Path.Join(_folder.Path, "tocsin.json"));

    private static string Line(CliRun run, string check) =>
        Assert.Single(run.Stdout.Split('\n'), l => l.Contains(check, StringComparison.Ordinal) && (l.Contains("OK", StringComparison.Ordinal) || l.Contains("WARNING", StringComparison.Ordinal) || l.Contains("CRITICAL", StringComparison.Ordinal) || l.Contains("UNKNOWN", StringComparison.Ordinal)));

    [Fact]
    public async Task The_emulated_deployment_is_judged_in_one_run_and_again_when_it_breaks()
    {
        Directory.CreateDirectory(Path.Join(_folder.Path, "backups"));
        Dump(TimeSpan.FromHours(26.5));
        Dump(TimeSpan.FromHours(2));
        _chat.InstallAppPerInstance(ClamAv, "manually_enabled", "manually_disabled", "auto_enabled");
        WriteConfig();

        var run = await OnceAsync();
        Assert.True(run.ExitCode == 1, run.ToString()); // the worst is WARNING: the drift, found and fixed
        Assert.Contains("WARNING", Line(run, "apps"), StringComparison.Ordinal);
        Assert.Contains("drift fixed and verified", run.Stdout, StringComparison.Ordinal);
        Assert.Equal(["manually_enabled", "manually_enabled", "auto_enabled"], _chat.AppStatuses(ClamAv.Id));
        Assert.Contains("OK", Line(run, "chat"), StringComparison.Ordinal);
        Assert.Contains("OK", Line(run, "mongo"), StringComparison.Ordinal);
        Assert.Contains("OK", Line(run, "backups"), StringComparison.Ordinal);
        Assert.DoesNotContain(_bot.Pat, run.Stdout + run.Stderr, StringComparison.Ordinal);

        // Broken: a replica-set member down, the newest dump too old, one Rocket.Chat instance dead.
        await _mongo.Members[2].GoDownAsync();
        foreach (string f in Directory.GetFiles(Path.Join(_folder.Path, "backups")))
        {
            File.Delete(f);
        }

        Dump(TimeSpan.FromHours(30));
        await _chat.Instances[2].GoDownAsync();

        var broken = await OnceAsync();
        Assert.True(broken.ExitCode == 2, broken.ToString());
        Assert.Contains("CRITICAL", Line(broken, "apps"), StringComparison.Ordinal);
        Assert.Contains("WARNING", Line(broken, "chat"), StringComparison.Ordinal);
        Assert.Contains("CRITICAL", Line(broken, "backups"), StringComparison.Ordinal);
        Assert.DoesNotContain("OK", Line(broken, "mongo"), StringComparison.Ordinal);
    }
}
