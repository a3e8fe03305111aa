using System.Globalization;
using System.ServiceModel.Syndication;
using System.Text;
using System.Xml;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tocsin.Configuration;
using Tocsin.State;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Web;

/// <summary>
/// Feeds of hard state changes, as seed 003's RSS feed (an item per promise change) and for feed readers:
/// <c>GET /feed.rss</c> (RSS 2.0, <c>application/rss+xml</c>) and <c>GET /feed.atom</c> (Atom 1.0,
/// <c>application/atom+xml</c>), built with System.ServiceModel.Syndication.
/// </summary>
public static class FeedEndpoints
{
    /// <summary>Items a feed holds: the newest hard state changes. <value>100.</value></summary>
    public const int MaxItems = 100;

    /// <summary>
    /// Maps the two feeds. Each item is one hard state change of this agent's checks, newest first, at most
    /// <see cref="MaxItems"/>: title <c>{check}: {from} → {to}</c>, summary the result's message, published at the
    /// change, id <c>urn:uuid:{change id}</c> (stable: a reader sees each change once), link to the check in the API.
    /// The feed's title is <c>web.title</c>. Needs <see cref="TocsinConfig"/> and <see cref="SqliteOutbox"/> in services.
    /// </summary>
    public static IEndpointRouteBuilder MapFeeds(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/feed.rss", (HttpContext context, TocsinConfig config, SqliteOutbox outbox) =>
            Write(context, Build(context, config, outbox), rss: true));
        endpoints.MapGet("/feed.atom", (HttpContext context, TocsinConfig config, SqliteOutbox outbox) =>
            Write(context, Build(context, config, outbox), rss: false));
        return endpoints;
    }

    /// <summary>The feed of the newest hard state changes, links absolute on the request's host.</summary>
    public static SyndicationFeed Build(HttpContext context, TocsinConfig config, SqliteOutbox outbox)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(outbox);
        var request = context.Request;
        var root = new Uri($"{request.Scheme}://{request.Host}{request.PathBase}/");
        var changes = outbox.ReadStateChanges(null, null, null, MaxItems);
        var items = changes.Select(c => Item(c, root)).ToList();
        var feed = new SyndicationFeed(
            config.WebTitle, $"Hard state changes of the checks of {config.WebTitle}", root, "urn:tocsin:feed:" + outbox.AgentId.ToString("D"),
            items.Count > 0 ? items[0].PublishDate : DateTimeOffset.UnixEpoch, items)
        {
            Generator = "Tocsin " + VersionInfo.Version,
        };
        return feed;
    }

    private static SyndicationItem Item(HardStateChange change, Uri root)
    {
        var link = new Uri(root, "api/v1/checks/" + Uri.EscapeDataString(change.CheckName));
        var item = new SyndicationItem(
            $"{change.CheckName}: {change.From} → {change.To}",
            (SyndicationContent?)null,
            link,
            "urn:uuid:" + change.Id.ToString("D"),
            change.At)
        {
            PublishDate = change.At,
            Summary = new TextSyndicationContent(change.Message),
        };
        item.Categories.Add(new SyndicationCategory(change.To.ToString()));
        return item;
    }

    private static IResult Write(HttpContext context, SyndicationFeed feed, bool rss)
    {
        var settings = new XmlWriterSettings { Encoding = new UTF8Encoding(false), Indent = true, Async = false };
        using var buffer = new MemoryStream();
        using (var writer = XmlWriter.Create(buffer, settings))
        {
            if (rss)
            {
                new Rss20FeedFormatter(feed, serializeExtensionsAsAtom: false).WriteTo(writer);
            }
            else
            {
                new Atom10FeedFormatter(feed).WriteTo(writer);
            }
        }

        context.Response.Headers.CacheControl = "no-cache";
        return Results.Bytes(buffer.ToArray(), rss ? "application/rss+xml; charset=utf-8" : "application/atom+xml; charset=utf-8");
    }
}
