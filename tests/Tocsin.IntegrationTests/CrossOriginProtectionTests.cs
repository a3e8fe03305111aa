using Microsoft.AspNetCore.Http;
using Tocsin.Web;

namespace Tocsin.IntegrationTests;

/// <summary>The cross-site request forgery rule of the write endpoints, on requests built in memory.</summary>
public sealed class CrossOriginProtectionTests
{
    private static HttpRequest Request(string scheme, string host, string? site = null, string? origin = null)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.Scheme = scheme;
        context.Request.Host = new HostString(host);
        if (site is not null)
        {
            context.Request.Headers["Sec-Fetch-Site"] = site;
        }

        if (origin is not null)
        {
            context.Request.Headers.Origin = origin;
        }

        return context.Request;
    }

    [Theory]
    [InlineData("http", "127.0.0.1:8080", null, null)] // a program: curl, SlapOS tooling
    [InlineData("http", "127.0.0.1:8080", "same-origin", null)]
    [InlineData("http", "127.0.0.1:8080", "none", null)]
    [InlineData("http", "127.0.0.1:8080", null, "http://127.0.0.1:8080")]
    [InlineData("https", "mon.example.org", null, "https://mon.example.org")]
    [InlineData("https", "mon.example.org:443", null, "https://MON.example.org")]
    [InlineData("http", "mon.example.org", null, "http://mon.example.org:80")]
    [InlineData("http", "127.0.0.1:8080", "same-origin", "http://127.0.0.1:8080")]
    public void Same_origin_and_programs_pass(string scheme, string host, string? site, string? origin) =>
        Assert.Null(CrossOriginProtection.Refusal(Request(scheme, host, site, origin)));

    [Theory]
    [InlineData("http", "127.0.0.1:8080", "cross-site", null)]
    [InlineData("http", "127.0.0.1:8080", "same-site", null)]
    [InlineData("http", "127.0.0.1:8080", "cross-site", "http://127.0.0.1:8080")] // Fetch Metadata decides when present
    [InlineData("http", "127.0.0.1:8080", null, "http://127.0.0.1:9090")]
    [InlineData("http", "127.0.0.1:8080", null, "https://127.0.0.1:8080")]
    [InlineData("https", "mon.example.org", null, "https://evil.example")]
    [InlineData("http", "127.0.0.1:8080", null, "null")]
    [InlineData("http", "127.0.0.1:8080", null, "not a url")]
    public void Other_sites_are_refused_with_the_header_named(string scheme, string host, string? site, string? origin)
    {
        string? reason = CrossOriginProtection.Refusal(Request(scheme, host, site, origin));

        Assert.NotNull(reason);
        Assert.Contains(site is not null ? "Sec-Fetch-Site" : "Origin", reason, StringComparison.Ordinal);
    }
}
