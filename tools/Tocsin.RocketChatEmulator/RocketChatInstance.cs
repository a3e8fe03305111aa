using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tocsin.RocketChatEmulator.Api;

namespace Tocsin.RocketChatEmulator;

/// <summary>How an instance misbehaves on purpose.</summary>
public enum RocketChatFailure
{
    /// <summary>Answers normally.</summary>
    None,

    /// <summary>Answers every request with HTTP 500 and <c>{"success":false,"error":"Internal server error"}</c>.</summary>
    Http500,
}

/// <summary>
/// One emulated Rocket.Chat server: a Kestrel listener on 127.0.0.1 sharing <see cref="RocketChatState"/> with the other
/// instances. It can fail with HTTP 500 (<see cref="Failure"/>) or go down (<see cref="GoDownAsync"/>: the port is closed,
/// connections are refused) and come back on the same port (<see cref="ComeBackAsync"/>).
/// </summary>
public sealed class RocketChatInstance : IAsyncDisposable
{
    private readonly RocketChatState _state;
    private readonly string _version;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private WebApplication? _app;
    private volatile RocketChatFailure _failure;

    internal RocketChatInstance(int index, RocketChatState state, string version)
    {
        Index = index;
        _state = state;
        _version = version;
    }

    /// <summary>Position in the cluster, from 0.</summary>
    public int Index { get; }

    /// <summary>Where it listens, e.g. <c>http://127.0.0.1:40123/</c> (the same after coming back).</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>An absolute URL on this instance, e.g. <c>Url("api/info")</c>.</summary>
    public Uri Url(string relative) => new(BaseAddress, relative);

    /// <summary>The failure it simulates now; set to make it fail, <see cref="RocketChatFailure.None"/> to heal.</summary>
    public RocketChatFailure Failure
    {
        get => _failure;
        set => _failure = value;
    }

    /// <summary>Whether it is down (not listening).</summary>
    public bool IsDown => _app is null;

    /// <summary>The Rocket.Chat version <c>/api/info</c> reports.</summary>
    public string Version => _version;

    internal async Task StartAsync(int port, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseShutdownTimeout(TimeSpan.FromSeconds(1));
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        app.Use(async (context, next) =>
        {
            if (_failure == RocketChatFailure.Http500)
            {
                context.Response.StatusCode = StatusCodes.Status500InternalServerError;
                await context.Response.WriteAsJsonAsync(new { success = false, error = "Internal server error" }, context.RequestAborted).ConfigureAwait(false);
                return;
            }

            await next(context).ConfigureAwait(false);
        });

        var api = new EmulatorApiContext(this, _state);
        InfoApi.Map(app, api);
        ChatApi.Map(app, api);
        HooksApi.Map(app, api);
        // Later: InstancesApi (/api/v1/instances.get), AppsApi (/api/apps/installed, /api/apps/{id}/status).

        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        string address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/");
        _app = app;
    }

    /// <summary>Stops listening: connections to <see cref="BaseAddress"/> are refused until <see cref="ComeBackAsync"/>.</summary>
    public async Task GoDownAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_app is { } app)
            {
                _app = null;
                await app.StopAsync().ConfigureAwait(false);
                await app.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Listens again on the same port (after <see cref="GoDownAsync"/>); does nothing when up.</summary>
    public async Task ComeBackAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_app is null)
            {
                await StartAsync(BaseAddress.Port, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await GoDownAsync().ConfigureAwait(false);
        _gate.Dispose();
    }
}
