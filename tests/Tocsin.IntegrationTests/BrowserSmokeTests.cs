using System.Text.Json.Nodes;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary>
/// The browser fixture itself, against a real <c>tocsin start</c> child: headless Chromium opens the agent's pages
/// and reads what a person would see.
/// </summary>
public sealed class BrowserSmokeTests : IAsyncLifetime
{
    private const string CheckName = "smoke target";

    private readonly TempFolder _folder = new();
    private TargetServer _target = null!;
    private TocsinProcess _agent = null!;
    private Uri _address = null!;
    private Browser? _browser;

    public async ValueTask InitializeAsync()
    {
        _target = await TargetServer.StartAsync();
        string config = AgentConfig.Write(_folder, AgentConfig.Http(CheckName, _target.Url("/ok")));
        _agent = TocsinProcess.Start(_folder.Path, ["start", "--config-path", config, "--urls", "http://127.0.0.1:0"]);
        _address = await _agent.ListeningAddressAsync(TimeSpan.FromSeconds(30));
        _browser = Browser.Start();
    }

    [Fact]
    public void Chromium_shows_the_running_agent_s_monitor_haljson_naming_its_check()
    {
        var browser = _browser!;

        browser.Open(new Uri(_address, "/monitor.haljson"));
        var index = JsonNode.Parse(browser.BodyText)!;
        browser.Screenshot("monitor-haljson");

        Assert.Equal(new Uri(_address, "/monitor.haljson"), browser.Url);
        Assert.Equal("Tocsin", (string)index["title"]!);
        var service = Assert.Single(index["_embedded"]!["service"]!.AsArray());
        Assert.Equal(CheckName, (string)service!["id"]!);
        string? screenshot = Directory.GetFiles(Browser.ScreenshotFolder, "monitor-haljson.png").SingleOrDefault();
        Assert.NotNull(screenshot);
        Assert.True(new FileInfo(screenshot).Length > 1000, "the screenshot is a real PNG, not an empty file");
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(screenshot)[..4]);
    }

    [Fact]
    public async Task Chromium_follows_the_check_s_status_link_and_waits_for_its_first_result()
    {
        var browser = _browser!;
        string statusPath = "/public/" + Uri.EscapeDataString(CheckName) + ".status.json";
        await Poll.UntilAsync(() => OutboxFile.CountResults(AgentConfig.OutboxPath(_folder)), n => n >= 1, TimeSpan.FromSeconds(30), "a first result", () => _agent.Output);

        browser.Open(new Uri(_address, statusPath));
        var status = JsonNode.Parse(browser.BodyText)!;

        Assert.Equal(CheckName, (string)status["title"]!);
        Assert.Equal("OK", (string)status["status"]!);
        Assert.Equal("complete", (string)browser.Evaluate("document.readyState")!);
    }

    public async ValueTask DisposeAsync()
    {
        _browser?.Dispose();
        if (_agent is not null)
        {
            await _agent.DisposeAsync();
        }

        if (_target is not null)
        {
            await _target.DisposeAsync();
        }

        _folder.Dispose();
    }
}
