using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tocsin.IntegrationTests.Fixtures;

/// <summary>One webhook delivery as received.</summary>
/// <param name="Key">The <c>Idempotency-Key</c> header.</param>
/// <param name="Type">Payload <c>type</c>.</param>
/// <param name="Check">Payload <c>check</c>.</param>
/// <param name="State">Payload <c>state</c>.</param>
/// <param name="At">When it arrived (UTC).</param>
/// <param name="Body">The raw body.</param>
public sealed record ReceivedWebhook(string Key, string Type, string Check, string State, DateTime At, string Body);

/// <summary>
/// A real Kestrel webhook receiver on loopback: records every POST to <c>/hook</c> when it arrives (before answering), answers
/// 200, or 503 while <see cref="Failing"/>, or holds the answer while <see cref="Hold"/> is set (until released).
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly ConcurrentQueue<ReceivedWebhook> _received = new();
    private WebApplication? _app;
    private readonly TaskCompletionSource _release = NewSource();
    private readonly TaskCompletionSource _heldArrived = NewSource();

    /// <summary>The URL to configure, e.g. <c>http://127.0.0.1:40123/hook</c>.</summary>
    public string Url { get; private set; } = "";

    /// <summary>While true, requests answer 503 (recorded all the same).</summary>
    public bool Failing { get; set; }

    /// <summary>While true, requests are recorded and then held without an answer until <see cref="Release"/>.</summary>
    public bool Hold { get; set; }

    /// <summary>Everything received, in arrival order.</summary>
    public IReadOnlyList<ReceivedWebhook> Received => [.. _received];

    /// <summary>Completes when a request arrives while <see cref="Hold"/> is set.</summary>
    public Task HeldRequestArrived => _heldArrived.Task;

    /// <summary>Answers the held requests (200) and stops holding.</summary>
    public void Release()
    {
        Hold = false;
        _release.TrySetResult();
    }

    public static async Task<WebhookReceiver> StartAsync()
    {
        var receiver = new WebhookReceiver();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseShutdownTimeout(TimeSpan.FromSeconds(2));
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.MapPost("/hook", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            string body = await reader.ReadToEndAsync(context.RequestAborted);
            string type = "", check = "", state = "";
            try
            {
                using var doc = JsonDocument.Parse(body);
                type = doc.RootElement.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";
                check = doc.RootElement.TryGetProperty("check", out var c) ? c.GetString() ?? "" : "";
                state = doc.RootElement.TryGetProperty("state", out var s) ? s.GetString() ?? "" : "";
            }
            catch (JsonException)
            {
            }

            receiver._received.Enqueue(new ReceivedWebhook(context.Request.Headers["Idempotency-Key"].ToString(), type, check, state, DateTime.UtcNow, body));
            if (receiver.Hold)
            {
                receiver._heldArrived.TrySetResult();
                await receiver._release.Task.WaitAsync(context.RequestAborted);
            }

            return receiver.Failing ? Results.StatusCode(503) : Results.Ok();
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        receiver.Url = address.TrimEnd('/') + "/hook";
        receiver._app = app;
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        _release.TrySetResult();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
