using System.ServiceModel.Syndication;
using System.Xml;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary>The RSS and Atom feeds of hard state changes, read back by the syndication library.</summary>
public sealed class FeedTests(RunningAgent agent) : IClassFixture<RunningAgent>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(SyndicationFeed Feed, string ContentType)> LoadAsync(string path)
    {
        using var response = await agent.Http.GetAsync(new Uri(path, UriKind.Relative), Ct);
        response.EnsureSuccessStatusCode();
        await using var stream = await response.Content.ReadAsStreamAsync(Ct);
        using var reader = XmlReader.Create(stream);
        return (SyndicationFeed.Load(reader), response.Content.Headers.ContentType!.MediaType!);
    }

    [Theory]
    [InlineData("/feed.rss", "application/rss+xml")]
    [InlineData("/feed.atom", "application/atom+xml")]
    public async Task Feed_has_an_item_per_hard_state_change_with_a_stable_id_and_a_link_to_the_check(string path, string contentType)
    {
        var (feed, type) = await LoadAsync(path);

        Assert.Equal(contentType, type);
        Assert.Equal("Tocsin", feed.Title.Text);
        var item = Assert.Single(feed.Items, i => i.Title.Text == $"{RunningAgent.FailingCheck}: OK → CRITICAL");
        Assert.StartsWith("urn:uuid:", item.Id, StringComparison.Ordinal);
        Assert.Contains("500", ((TextSyndicationContent)item.Summary).Text, StringComparison.Ordinal);
        Assert.EndsWith("/api/v1/checks/failing%20500", item.Links[0].Uri.AbsoluteUri, StringComparison.Ordinal);
        Assert.DoesNotContain(feed.Items, i => i.Title.Text.StartsWith(RunningAgent.TcpCheck, StringComparison.Ordinal)); // OK from the start: no change

        // Newest first, and the same ids on the next read: a reader sees each change once.
        Assert.Equal(feed.Items.OrderByDescending(i => i.PublishDate).Select(i => i.Id), feed.Items.Select(i => i.Id));
        var (again, _) = await LoadAsync(path);
        Assert.Contains(again.Items, i => i.Id == item.Id);
    }
}
