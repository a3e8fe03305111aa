using System.Net;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;
using Tocsin.Access;
using Tocsin.Ingestion;
using Tocsin.Ingestion.Sqlite;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests.Ingestion;

/// <summary>An agent whose ingestion store holds two identities' logs and notifications before it starts.</summary>
public sealed class LogsAgent : ThreeCheckAgent
{
    public static readonly DateTimeOffset Start = DateTimeOffset.UtcNow;

    protected override string OkPath => "/ok?via=logs";

    protected override async Task PrepareAsync()
    {
        string path = Path.Join(Path.GetDirectoryName(OutboxPath), Path.GetFileNameWithoutExtension(OutboxPath) + ".ingestion.db");
        await using var store = new SqliteIngestionStore(path, TimeProvider.System);
        await store.InitializeAsync(CancellationToken.None);
        await store.AddTokenAsync("wd-a", IngestionRole.Agent, AccessTokens.Sha256(AccessTokens.Create()), CancellationToken.None);
        await store.AddTokenAsync("wd-b", IngestionRole.Agent, AccessTokens.Sha256(AccessTokens.Create()), CancellationToken.None);
        static IngestionRow Row(string sender, int level, int minutesAgo, string message) => new(sender, message, level, Start.AddMinutes(-minutesAgo));
        await store.AppendAsync(RowKind.Logs,
        [
            new IngestionBatch("wd-a", [Row("dns", 20, 1, "resolved example.org"), Row("dns", 40, 2, "SERVFAIL for <b>bad</b>.example"), Row("dhcp", 10, 3, "lease renewed"), Row("dns", 20, 120, "two hours ago")]),
            new IngestionBatch("wd-b", [Row("dns", 20, 1, "wd-b only")]),
        ], CancellationToken.None);
        await store.AppendAsync(RowKind.Notifications, [new IngestionBatch("wd-a", [Row("watchdog", 50, 1, "device offline")])], CancellationToken.None);
    }
}

/// <summary>The dashboard's logs page over real HTTP, parsed as HTML5.</summary>
public sealed class LogsPageTests(LogsAgent agent) : IClassFixture<LogsAgent>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(HttpStatusCode Status, IDocument Page)> GetAsync(string path)
    {
        using var response = await agent.Http.GetAsync(new Uri(path, UriKind.Relative), Ct);
        return (response.StatusCode, await new HtmlParser().ParseDocumentAsync(await response.Content.ReadAsStringAsync(Ct), Ct));
    }

    private static string[] Messages(IDocument page) => [.. page.QuerySelectorAll("table#rows td.message").Select(td => td.TextContent)];

    [Fact]
    public async Task The_first_identity_s_recent_logs_show_newest_first_with_level_names_and_escaped_text()
    {
        var (status, page) = await GetAsync("/logs");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["wd-a", "wd-b"], page.QuerySelectorAll("select[name=identity] option").Select(o => o.TextContent));
        Assert.Equal(["resolved example.org", "SERVFAIL for <b>bad</b>.example", "lease renewed"], Messages(page));
        Assert.Equal(["info", "error", "debug"], page.QuerySelectorAll("table#rows td.level").Select(td => td.TextContent));
        Assert.Empty(page.QuerySelectorAll("table#rows b"));
        Assert.Equal("0", page.Body!.GetAttribute("data-refresh"));
    }

    [Theory]
    [InlineData("/logs?identity=wd-b", new[] { "wd-b only" })]
    [InlineData("/logs?identity=wd-a&sender=dns&level=30", new[] { "resolved example.org" })]
    [InlineData("/logs?identity=wd-a&q=SERVFAIL", new[] { "SERVFAIL for <b>bad</b>.example" })]
    [InlineData("/logs?identity=wd-a&window=6h&sender=dns", new[] { "resolved example.org", "SERVFAIL for <b>bad</b>.example", "two hours ago" })]
    [InlineData("/logs?identity=wd-a&kind=notifications", new[] { "device offline" })]
    public async Task Filters_search_one_identity_s_rows(string path, string[] expected)
    {
        var (status, page) = await GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(expected, Messages(page));
    }

    [Fact]
    public async Task Follow_refreshes_every_two_seconds()
    {
        var (_, page) = await GetAsync("/logs?identity=wd-a&follow=1");
        Assert.Equal("2", page.Body!.GetAttribute("data-refresh"));
        Assert.NotNull(page.QuerySelector("input[name=follow][checked]"));
    }

    [Theory]
    [InlineData("/logs?kind=metrics", "kind")]
    [InlineData("/logs?window=2d", "window")]
    [InlineData("/logs?level=loud", "level")]
    [InlineData("/logs?before=yesterday", "before")]
    public async Task A_bad_parameter_is_400_naming_it(string path, string parameter)
    {
        var (status, page) = await GetAsync(path);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(parameter, page.Body!.TextContent, StringComparison.Ordinal);
    }
}
