using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Tocsin.Access;
using Tocsin.Configuration;
using Tocsin.Ingestion;
using Tocsin.Ingestion.Sqlite;
using Tocsin.IntegrationTests.Fixtures;
using Tocsin.Web;
using Tocsin.Web.Ingestion;

namespace Tocsin.IntegrationTests.Ingestion;

/// <summary>
/// A real Kestrel on a loopback port serving only <c>MapIngestion</c> over a real SQLite ingestion store in a temp folder,
/// with the production batching writer (or one given by the test), a fake clock set to now (tests advance it for the
/// auth deadline and the row rate) and the product's <see cref="LocalNotificationFanout"/>. Optionally with <c>web.auth</c>, its
/// middleware and a write endpoint <c>POST /write</c> behind the write policy, to show the two do not mix.
/// </summary>
public sealed class IngestionHost : IAsyncDisposable
{
    private readonly TempFolder _folder = new();
    private WebApplication _app = null!;

    private IngestionHost()
    {
    }

    public SqliteIngestionStore Store { get; private set; } = null!;

    public FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    public Uri Http { get; private set; } = null!;

    public Uri Ws => new($"ws://{Http.Authority}/ws");

    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Starts a host; <paramref name="writer"/> builds the writer from the store (default: the batching writer).</summary>
    public static async Task<IngestionHost> StartAsync(IngestionOptions? options = null, Func<IIngestionStore, IIngestionWriter>? writer = null, WebAuthConfig? webAuth = null)
    {
        var host = new IngestionHost();
        host.Store = new SqliteIngestionStore(host._folder.File("ingestion.db"), host.Time);
        await host.Store.InitializeAsync(Ct);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseShutdownTimeout(TimeSpan.FromSeconds(2));
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton<TimeProvider>(host.Time);
        builder.Services.AddSingleton(options ?? new IngestionOptions());
        builder.Services.AddSingleton<IIngestionStore>(host.Store);
        builder.Services.AddSingleton<IIngestionWriter>(sp => writer?.Invoke(host.Store)
            ?? new IngestionWriter(host.Store, sp.GetRequiredService<ILogger<IngestionWriter>>()));
        builder.Services.AddSingleton<INotificationFanout>(sp => new LocalNotificationFanout(sp.GetRequiredService<ILogger<LocalNotificationFanout>>()));
        builder.Services.AddSingleton<IngestionHandler>();
        if (webAuth is not null)
        {
            builder.Services.AddTocsinAccess(webAuth);
        }

        host._app = builder.Build();
        if (webAuth is not null)
        {
            host._app.UseTocsinAccess();
            // A write endpoint as the agent maps them (ApiEndpoints' write group).
            host._app.MapPost("/write", () => "written").RequireAuthorization(AuthSetup.WritePolicy).RefuseCrossOrigin();
        }

        host._app.MapIngestion();
        await host._app.StartAsync(Ct);
        string address = host._app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        host.Http = new Uri(address);
        return host;
    }

    /// <summary>Makes a token for <paramref name="identity"/> through the store, as <c>tocsin tokens create</c> does.</summary>
    public async Task<string> TokenAsync(string identity, IngestionRole role)
    {
        string token = AccessTokens.Create();
        await Store.AddTokenAsync(identity, role, AccessTokens.Sha256(token), Ct);
        return token;
    }

    /// <summary>Opens <c>/ws</c>, with <c>Authorization: Bearer</c> when <paramref name="bearer"/> is given.</summary>
    public async Task<ClientWebSocket> ConnectAsync(string? bearer = null)
    {
        var ws = new ClientWebSocket();
        ws.Options.CollectHttpResponseDetails = true;
        if (bearer is not null)
        {
            ws.Options.SetRequestHeader("Authorization", "Bearer " + bearer);
        }

        await ws.ConnectAsync(Ws, Ct);
        return ws;
    }

    /// <summary>Opens <c>/ws</c> and authenticates with a first frame, as seed 002's agents do; returns the socket and the auth reply.</summary>
    public async Task<ClientWebSocket> ConnectWithFrameAsync(string token)
    {
        var ws = await ConnectAsync();
        var reply = await ws.RequestAsync($$"""{"action":"auth","token":"{{token}}"}""");
        Assert.True(reply.GetProperty("success").GetBoolean(), reply.GetRawText());
        return ws;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        await Store.DisposeAsync();
        _folder.Dispose();
    }
}

/// <summary>The client side of the protocol, with deadlines.</summary>
public static class IngestionClient
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    public static Task SendTextAsync(this WebSocket ws, string frame) =>
        ws.SendAsync(Encoding.UTF8.GetBytes(frame), WebSocketMessageType.Text, true, TestContext.Current.CancellationToken);

    /// <summary>The next whole message as JSON; fails when the server closes instead or nothing comes before the deadline.</summary>
    public static async Task<JsonElement> ReceiveJsonAsync(this WebSocket ws)
    {
        var (type, bytes) = await ReceiveAsync(ws);
        Assert.True(type == WebSocketMessageType.Text, $"expected a text frame, got {type} ({ws.CloseStatus} {ws.CloseStatusDescription})");
        return JsonDocument.Parse(bytes).RootElement.Clone();
    }

    public static async Task<JsonElement> RequestAsync(this WebSocket ws, string frame)
    {
        await ws.SendTextAsync(frame);
        return await ws.ReceiveJsonAsync();
    }

    /// <summary>Waits for the server's close frame, answers it as browsers and seed 002's clients do, and returns its status and reason.</summary>
    public static async Task<(WebSocketCloseStatus? Status, string? Reason)> ReceiveCloseAsync(this WebSocket ws)
    {
        var (type, bytes) = await ReceiveAsync(ws);
        Assert.True(type == WebSocketMessageType.Close, $"expected a close, got {type}: {Encoding.UTF8.GetString(bytes)}");
        var closed = (ws.CloseStatus, ws.CloseStatusDescription);
        await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", TestContext.Current.CancellationToken);
        return closed;
    }

    private static async Task<(WebSocketMessageType, byte[])> ReceiveAsync(WebSocket ws)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(Deadline);
        using var message = new MemoryStream();
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var result = await ws.ReceiveAsync(buffer, deadline.Token);
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage || result.MessageType == WebSocketMessageType.Close)
            {
                return (result.MessageType, message.ToArray());
            }
        }
    }
}
