using System.Text.Json;
using System.Text.Json.Nodes;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary>The outbox after <c>tocsin start</c> is killed with SIGKILL in the middle of its work.</summary>
public sealed class CrashRecoveryTests
{
    private const int HttpChecks = 20;

    [Fact]
    public async Task Outbox_survives_kill_9_with_every_committed_result_and_the_next_start_keeps_writing_to_it()
    {
        await using var target = await TargetServer.StartAsync();
        using var folder = new TempFolder();
        var checks = Enumerable.Range(1, HttpChecks).Select(i => AgentConfig.Http($"ok-{i:00}", target.Url("/ok"))).ToList();
        checks.Add(AgentConfig.Tcp("target-port", target.Port));
        string config = AgentConfig.Write(folder, [.. checks]);
        string outbox = AgentConfig.OutboxPath(folder);
        string[] names = [.. checks.Select(c => (string)c["name"]!)];

        long committed;
        await using (var agent = TocsinProcess.Start(folder.Path, ["start", "--config-path", config]))
        {
            committed = await Poll.UntilAsync(() => OutboxFile.CountResults(outbox), n => n >= 50, TimeSpan.FromSeconds(30), "50 results in the outbox", () => agent.Output);
            await agent.KillHardAsync();
        }

        Assert.Equal("ok", OutboxFile.IntegrityCheck(outbox));
        long afterCrash = OutboxFile.CountResults(outbox);
        Assert.True(afterCrash >= committed, $"{afterCrash} results after the kill, {committed} seen committed before it");

        var status = await TocsinProcess.RunAsync(folder.Path, "status", "--json", "--config-path", config);
        Assert.True(status.ExitCode == 0, status.ToString());
        var report = JsonNode.Parse(status.Stdout)!.AsArray();
        Assert.Equal(names, report.Select(s => (string)s!["name"]!));
        foreach (var s in report)
        {
            Assert.Contains((string)s!["state"]!, new[] { "OK", "WARNING", "CRITICAL", "UNKNOWN" });
            Assert.Equal(JsonValueKind.String, s["lastRun"]!.GetValueKind());
        }

        await using (var again = TocsinProcess.Start(folder.Path, ["start", "--config-path", config]))
        {
            await Poll.UntilAsync(() => OutboxFile.CountResults(outbox), n => n >= afterCrash + HttpChecks, TimeSpan.FromSeconds(30), "new results after the restart", () => again.Output);
            again.Signal("TERM");
            int code = await again.WaitForExitAsync(TimeSpan.FromSeconds(45));
            Assert.True(code == 0, $"exit code {code}{Environment.NewLine}{again.Output}");
        }

        Assert.Equal("ok", OutboxFile.IntegrityCheck(outbox));
    }
}
