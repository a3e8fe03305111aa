using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tocsin.IntegrationTests.Fixtures;

/// <summary>
/// A real Kestrel server on 127.0.0.1 (port chosen by the OS) in the test process, for the agent's checks
/// to aim at. Routes (GET and HEAD): <c>/ok</c> 200 "Example body"; <c>/500</c> 500;
/// <c>/slow?ms=N&amp;tag=T</c> 200 after N ms, and <see cref="SlowRequestArrived"/>(T) completes when the
/// request arrives; <c>/switch/{key}</c> answers the status set by <see cref="SetSwitch"/> (200 until set);
/// <c>/html/{key}</c> answers the page set by <see cref="SetHtml"/> (404 until set), e.g. another site's form for a browser test.
/// </summary>
public sealed class TargetServer : IAsyncLifetime
{
    public const string OkBody = "Example body";

    private readonly ConcurrentDictionary<string, TaskCompletionSource> _slowArrivals = new(StringComparer.Ordinal);
    private WebApplication? _app;

    /// <summary>Where the server listens, e.g. <c>http://127.0.0.1:40123/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The TCP port the server listens on.</summary>
    public int Port => BaseAddress.Port;

    /// <summary>An absolute URL on this server.</summary>
    public string Url(string pathAndQuery) => new Uri(BaseAddress, pathAndQuery).AbsoluteUri;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _switches = new();

    /// <summary>Sets the status code <c>/switch/{key}</c> answers (200 until set).</summary>
    public void SetSwitch(string key, int status) => _switches[key] = status;

    private readonly ConcurrentDictionary<string, string> _pages = new(StringComparer.Ordinal);

    /// <summary>Sets the HTML page <c>/html/{key}</c> answers.</summary>
    public void SetHtml(string key, string html) => _pages[key] = html;

    /// <summary>Completes when a <c>/slow</c> request with <c>tag=<paramref name="tag"/></c> arrives.</summary>
    public Task SlowRequestArrived(string tag) => Arrival(tag).Task;

    public static async Task<TargetServer> StartAsync()
    {
        var target = new TargetServer();
        await target.InitializeAsync();
        return target;
    }

    public async ValueTask InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseShutdownTimeout(TimeSpan.FromSeconds(2));
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        string[] getAndHead = ["GET", "HEAD"];
        app.MapMethods("/ok", getAndHead, () => Results.Text(OkBody, "text/plain; charset=utf-8"));
        app.MapMethods("/500", getAndHead, () => Results.Text("server error", "text/plain; charset=utf-8", statusCode: 500));
        app.MapMethods("/switch/{key}", getAndHead, (string key) =>
            Results.Text($"switch {key}", "text/plain; charset=utf-8", statusCode: _switches.GetValueOrDefault(key, 200)));
        app.MapMethods("/html/{key}", getAndHead, (string key) =>
            _pages.TryGetValue(key, out string? html) ? Results.Text(html, "text/html; charset=utf-8") : Results.NotFound());
        app.MapMethods("/slow", getAndHead, async (int ms, string? tag, CancellationToken aborted) =>
        {
            if (tag is not null)
            {
                Arrival(tag).TrySetResult();
            }

            await Task.Delay(ms, aborted);
            return Results.Text("slow answer", "text/plain; charset=utf-8");
        });
        await app.StartAsync();
        var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses;
        BaseAddress = new Uri(addresses.Single());
        _app = app;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private TaskCompletionSource Arrival(string tag) =>
        _slowArrivals.GetOrAdd(tag, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
}
