using System.Text.Json.Nodes;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary>State tracking across a restart of the real <c>tocsin start</c> process on the same outbox.</summary>
public sealed class StateRestartTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_incident_opened_before_a_restart_is_closed_after_it_with_the_same_id_and_counts_carry_over()
    {
        using var folder = new TempFolder();
        await using var target = await TargetServer.StartAsync();
        target.SetSwitch("r", 503);
        var check = AgentConfig.Http("restarted", target.Url("/switch/r"));
        check["successThreshold"] = 3;
        string config = AgentConfig.Write(folder, check);

        Guid incidentId;
        await using (var first = TocsinProcess.Start(folder.Path, ["start", "--config-path", config, "--urls", "http://127.0.0.1:0"]))
        {
            using var http = new HttpClient { BaseAddress = await first.ListeningAddressAsync(TimeSpan.FromSeconds(30)) };
            var failing = await Poll.UntilAsync(() => GetAsync(http, "/api/v1/checks/restarted"), c => c?["openIncidentId"] is not null,
                TimeSpan.FromSeconds(30), "an open incident", () => first.Output);
            incidentId = (Guid)failing!["openIncidentId"]!;

            // Recover partly: one or two OK results, fewer than successThreshold, then stop.
            target.SetSwitch("r", 200);
            await Poll.UntilAsync(() => GetAsync(http, "/api/v1/checks/restarted"), c => (int?)c?["consecutiveSuccesses"] >= 1,
                TimeSpan.FromSeconds(30), "a first OK result", () => first.Output);
            target.SetSwitch("r", 503);
            first.Signal("TERM");
            Assert.Equal(0, await first.WaitForExitAsync(TimeSpan.FromSeconds(45)));
        }

        await using var second = TocsinProcess.Start(folder.Path, ["start", "--config-path", config, "--urls", "http://127.0.0.1:0"]);
        using var http2 = new HttpClient { BaseAddress = await second.ListeningAddressAsync(TimeSpan.FromSeconds(30)) };
        var afterRestart = GetAsync(http2, "/api/v1/checks/restarted");
        Assert.Equal("CRITICAL", (string)afterRestart!["hardState"]!);
        Assert.Equal(incidentId, (Guid)afterRestart["openIncidentId"]!);

        target.SetSwitch("r", 200);
        var recovered = await Poll.UntilAsync(() => GetAsync(http2, "/api/v1/checks/restarted"), c => (string?)c?["hardState"] == "OK",
            TimeSpan.FromSeconds(30), "recovery after the restart", () => second.Output);
        Assert.True((int)recovered!["consecutiveSuccesses"]! >= 3);

        var incidents = JsonNode.Parse(await http2.GetStringAsync(new Uri("/api/v1/incidents?check=restarted", UriKind.Relative), Ct))!.AsArray();
        var incident = Assert.Single(incidents)!;
        Assert.Equal(incidentId, (Guid)incident["id"]!);
        Assert.False((bool)incident["open"]!);
        Assert.True((DateTimeOffset)incident["closedAt"]! > (DateTimeOffset)incident["openedAt"]!);
        var changes = JsonNode.Parse(await http2.GetStringAsync(new Uri("/api/v1/state-changes?check=restarted", UriKind.Relative), Ct))!.AsArray();
        Assert.Equal([("CRITICAL", "OK"), ("OK", "CRITICAL")], changes.Select(c => ((string)c!["from"]!, (string)c!["to"]!)));
    }

    private static JsonNode? GetAsync(HttpClient http, string path)
    {
        using var response = http.GetAsync(new Uri(path, UriKind.Relative), Ct).GetAwaiter().GetResult();
        return response.IsSuccessStatusCode ? JsonNode.Parse(response.Content.ReadAsStringAsync(Ct).GetAwaiter().GetResult()) : null;
    }
}
