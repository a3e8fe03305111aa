using System.Net;
using System.Text.Json.Nodes;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary>
/// One <c>tocsin start</c> child running four command checks every second (real shell scripts), with
/// <c>"slapos": {"publicFolder": "srv/monitor/public"}</c> (relative to the config file): a Nagios plugin with
/// perfdata whose second item comes and goes with a flag file, one exiting 2, a SlapOS promise printing status JSON,
/// and one whose name holds <c>/</c> and <c>..</c> (no file for it).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PromiseAgent : IAsyncLifetime
{
    public const string Plugin = "disk-free";
    public const string Failing = "broken-promise";
    public const string Json = "json-promise";
    public const string Unsafe = "bad/../name";

    public TempFolder Folder { get; } = new();

    public TocsinProcess Agent { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public string PublicFolder => Folder.File(Path.Combine("srv", "monitor", "public"));

    /// <summary>While this file exists the plugin also prints <c>extra=7</c>.</summary>
    public string ExtraFlag => Folder.File("extra.flag");

    public static string[] Checks => [Plugin, Failing, Json, Unsafe];

    public async ValueTask InitializeAsync()
    {
        try
        {
            Directory.CreateDirectory(PublicFolder);
            File.WriteAllText(ExtraFlag, "");
            string plugin = Script("plugin.sh", $$"""
                #!/bin/sh
                if [ -f '{{ExtraFlag}}' ]; then extra=' extra=7'; else extra=''; fi
                echo "DISK OK - 42.5 MB free | 'free space'=42.5MB;10;5;0;100 load=0.25 'time'=15ms${extra} undetermined=U"
                exit 0
                """);
            string failing = Script("failing.sh", "#!/bin/sh\necho 'CRITICAL - the thing is broken'\nexit 2\n");
            string json = Script("json.sh", "#!/bin/sh\necho '{\"status\": \"OK\", \"message\": \"all good\", \"extra\": 1}'\n");
            string config = AgentConfig.Write(Folder, Command(Plugin, plugin), Command(Failing, failing), Command(Json, json), Command(Unsafe, json));
            AgentConfig.Edit(config, root => root["slapos"] = new JsonObject { ["publicFolder"] = "srv/monitor/public" });
            Agent = TocsinProcess.Start(Folder.Path, ["start", "--config-path", config, "--urls", "http://127.0.0.1:0"]);
            Http = new HttpClient { BaseAddress = await Agent.ListeningAddressAsync(TimeSpan.FromSeconds(30)), Timeout = TimeSpan.FromSeconds(30) };
            await Poll.UntilAsync(() => OutboxFile.FewestResults(AgentConfig.OutboxPath(Folder), Checks), n => n >= 2, TimeSpan.FromSeconds(30), "two results of every check", () => Agent.Output);
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        if (Agent is not null)
        {
            await Agent.DisposeAsync();
        }

        Folder.Dispose();
        GC.SuppressFinalize(this);
    }

    private string Script(string name, string text)
    {
        string path = Folder.Write(name, text.Replace("\r", "", StringComparison.Ordinal));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private static JsonObject Command(string name, string path) =>
        new() { ["name"] = name, ["kind"] = "command", ["command"] = new JsonArray(path), ["interval"] = "1s", ["timeout"] = "800ms" };
}

/// <summary>Status files in the SlapOS public folder and <c>tocsin_perfdata</c> of a running agent with command checks.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SlapOsStatusFilesTests(PromiseAgent agent) : IClassFixture<PromiseAgent>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(PromiseAgent.Plugin, "OK", "DISK OK - 42.5 MB free")]
    [InlineData(PromiseAgent.Failing, "ERROR", "CRITICAL: CRITICAL - the thing is broken")]
    [InlineData(PromiseAgent.Json, "OK", "all good")]
    public async Task Each_check_s_status_file_is_the_json_of_its_public_status_endpoint(string check, string status, string message)
    {
        string file = Path.Combine(agent.PublicFolder, check + ".status.json");
        await Poll.UntilAsync(() => File.Exists(file), e => e, TimeSpan.FromSeconds(10), $"{file} to be written", () => agent.Agent.Output);

        // The check runs every second and the endpoint answers from a snapshot of up to a second (served while the next is read):
        // retry, for up to about 10 s, until the file did not change around the request and both show the same run.
        JsonNode? onDisk = null, served = null;
        for (int attempt = 0; attempt < 200; attempt++)
        {
            string before = await File.ReadAllTextAsync(file, Ct);
            using var response = await agent.Http.GetAsync(new Uri($"/public/{Uri.EscapeDataString(check)}.status.json", UriKind.Relative), Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            served = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct));
            string after = await File.ReadAllTextAsync(file, Ct);
            onDisk = JsonNode.Parse(after);
            if (before == after && JsonNode.DeepEquals(onDisk, served))
            {
                break;
            }

            await Task.Delay(50, Ct);
        }

        Assert.True(JsonNode.DeepEquals(onDisk, served), $"file {onDisk?.ToJsonString()} != endpoint {served?.ToJsonString()}");
        Assert.Equal(status, (string?)onDisk!["status"]);
        Assert.Equal(message, (string?)onDisk["message"]);
        Assert.Equal(check, (string?)onDisk["title"]);
        Assert.Matches(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", (string?)onDisk["start-date"]);
        Assert.Matches(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", (string?)onDisk["change-date"]);
        Assert.True((double)onDisk["change-time"]! > 1.7e9);
    }

    [Fact]
    public async Task A_name_with_a_slash_or_dots_gets_no_file_anywhere_and_one_log_line()
    {
        // Let a few more results of the unsafe check come.
        long before = OutboxFile.CountResults(AgentConfig.OutboxPath(agent.Folder), PromiseAgent.Unsafe);
        await Poll.UntilAsync(() => OutboxFile.CountResults(AgentConfig.OutboxPath(agent.Folder), PromiseAgent.Unsafe), n => n >= before + 2, TimeSpan.FromSeconds(10), "two more results");

        // Temporary files (.tocsin-*.tmp) exist only while a file is being replaced.
        var files = Directory.EnumerateFileSystemEntries(agent.PublicFolder, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(agent.PublicFolder, f))
            .Where(f => !(f.StartsWith(".tocsin-", StringComparison.Ordinal) && f.EndsWith(".tmp", StringComparison.Ordinal)))
            .Order(StringComparer.Ordinal);
        Assert.Equal([PromiseAgent.Failing + ".status.json", PromiseAgent.Plugin + ".status.json", PromiseAgent.Json + ".status.json"], files);
        var refusals = agent.Agent.LogLines()
            .Where(l => l.TryGetProperty("Message", out var m) && m.GetString()!.StartsWith("No SlapOS status file for check", StringComparison.Ordinal))
            .ToList();
        var refusal = Assert.Single(refusals);
        Assert.Contains(PromiseAgent.Unsafe, refusal.GetProperty("Message").GetString(), StringComparison.Ordinal);
        Assert.Contains("'/'", refusal.GetProperty("Message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Perfdata_items_are_gauges_in_base_units_and_a_label_no_longer_printed_disappears()
    {
        var scrape = await ScrapeAsync();
        Assert.Equal("gauge", scrape.Types["tocsin_perfdata"]);
        Assert.Equal(42.5 * 1024 * 1024, scrape.Value("tocsin_perfdata", ("check", PromiseAgent.Plugin), ("label", "free space"), ("unit", "bytes")));
        Assert.Equal(0.25, scrape.Value("tocsin_perfdata", ("check", PromiseAgent.Plugin), ("label", "load"), ("unit", "")));
        Assert.Equal(0.015, scrape.Value("tocsin_perfdata", ("check", PromiseAgent.Plugin), ("label", "time"), ("unit", "seconds")), 9);
        Assert.DoesNotContain(scrape.Samples, s => s.Name == "tocsin_perfdata" && s.Labels["label"] == "undetermined");
        Assert.DoesNotContain(scrape.Samples, s => s.Name == "tocsin_perfdata" && s.Labels["check"] != PromiseAgent.Plugin);

        await Poll.UntilAsync(ScrapeAsync, s => HasExtra(s), TimeSpan.FromSeconds(10), "extra=7 while the flag exists");
        File.Delete(agent.ExtraFlag);
        try
        {
            var after = await Poll.UntilAsync(ScrapeAsync, s => !HasExtra(s), TimeSpan.FromSeconds(10), "extra gone once the plugin stops printing it", () => agent.Agent.Output);
            Assert.Equal(0.25, after.Value("tocsin_perfdata", ("check", PromiseAgent.Plugin), ("label", "load"), ("unit", "")));
        }
        finally
        {
            File.WriteAllText(agent.ExtraFlag, "");
        }
    }

    private static bool HasExtra(PrometheusText scrape) =>
        scrape.Samples.Any(s => s.Name == "tocsin_perfdata" && s.Labels["label"] == "extra" && s.Value == 7);

    private async Task<PrometheusText> ScrapeAsync()
    {
        using var response = await agent.Http.GetAsync(new Uri("/metrics", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return PrometheusText.Parse(await response.Content.ReadAsStringAsync(Ct));
    }
}
