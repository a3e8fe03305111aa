using System.Net;
using System.Text.Json.Nodes;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary>A real <c>tocsin start</c> child watching a seed 003 promise directory (<c>promiseDirectories</c>).</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PromiseDirectoryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Promise(string dir, string name, string body, string? cfg = null)
    {
        if (cfg is not null)
        {
            File.WriteAllText(Path.Combine(dir, name + ".cfg"), cfg);
        }

        // Written aside, made executable, then moved in: the agent never sees a half-written promise.
        string temp = Path.Combine(dir, "." + name + ".tmp");
        File.WriteAllText(temp, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.Move(temp, Path.Combine(dir, name));
    }

    private static async Task<JsonArray> ChecksAsync(HttpClient http) =>
        JsonNode.Parse(await http.GetStringAsync(new Uri("/api/v1/checks", UriKind.Relative), Ct))!.AsArray();

    private static JsonNode? Find(JsonArray checks, string name) => checks.FirstOrDefault(c => c!["name"]!.GetValue<string>() == name);

    [Fact]
    public async Task A_promise_added_at_run_time_appears_in_the_api_with_results_and_disappears_when_removed()
    {
        using var folder = new TempFolder();
        string dir = folder.File("etc/monitor-promise");
        Directory.CreateDirectory(dir);
        Promise(dir, "at-start", "echo 'OK - there from the start'");
        Promise(dir, "bad-cron", "echo never", "[service]\nfrequency = 99 * * * *\n");
        string config = AgentConfig.Write(folder);
        AgentConfig.Edit(config, root => root["promiseDirectories"] = new JsonArray("etc/monitor-promise"));

        await using var agent = TocsinProcess.Start(folder.Path, ["start", "--config-path", config, "--urls", "http://127.0.0.1:0"]);
        using var http = new HttpClient { BaseAddress = await agent.ListeningAddressAsync(TimeSpan.FromSeconds(30)), Timeout = TimeSpan.FromSeconds(30) };

        var checks = await ChecksAsync(http);
        Assert.Equal(["at-start", "bad-cron"], checks.Select(c => c!["name"]!.GetValue<string>()));
        Assert.Null(Find(checks, "at-start")!["problem"]);
        Assert.Contains("frequency \"99 * * * *\" is not a 5-field cron expression", Find(checks, "bad-cron")!["problem"]!.GetValue<string>(), StringComparison.Ordinal);

        Promise(dir, "added-later", "echo 'LATE OK - added while running | late=1s'", "[service]\ntitle = Added later\nfrequency = * * * * *\n");
        await Poll.UntilAsync(() => ChecksAsync(http), c => Find(c, "added-later") is not null, TimeSpan.FromSeconds(30), "the new promise in /api/v1/checks", () => agent.Output);

        // Its scheduled run comes within the minute; asking for one now gives a result at once. (The API lists the catalog
        // as soon as it changes; the scheduler takes the change a moment later, until which a run-now answers 404.)
        await Poll.UntilAsync(
            async () =>
            {
                using var run = await http.PostAsync(new Uri("/api/v1/checks/added-later/run", UriKind.Relative), null, Ct);
                return run.StatusCode;
            },
            code => code == HttpStatusCode.Accepted, TimeSpan.FromSeconds(10), "run-now of the new promise accepted", () => agent.Output);

        var status = await Poll.UntilAsync(
            async () => JsonNode.Parse(await http.GetStringAsync(new Uri("/api/v1/checks/added-later", UriKind.Relative), Ct))!,
            s => s["state"]!.GetValue<string>() == "OK", TimeSpan.FromSeconds(30), "a result of the new promise", () => agent.Output);
        Assert.Equal("LATE OK - added while running", status["message"]!.GetValue<string>());
        var results = JsonNode.Parse(await http.GetStringAsync(new Uri("/api/v1/checks/added-later/results", UriKind.Relative), Ct))!.AsArray();
        Assert.NotEmpty(results);
        string hal = await http.GetStringAsync(new Uri("/monitor.haljson", UriKind.Relative), Ct);
        Assert.Contains("\"title\":\"Added later\"", hal, StringComparison.Ordinal);

        File.Delete(Path.Combine(dir, "added-later"));
        await Poll.UntilAsync(() => ChecksAsync(http), c => Find(c, "added-later") is null, TimeSpan.FromSeconds(30), "the removed promise gone from /api/v1/checks", () => agent.Output);
        using var gone = await http.GetAsync(new Uri("/api/v1/checks/added-later", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Contains("Promise added-later removed", agent.Stderr, StringComparison.Ordinal);
    }
}
