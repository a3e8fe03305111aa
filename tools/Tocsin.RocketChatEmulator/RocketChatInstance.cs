using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
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
/// connections are refused) and come back on the same port (<see cref="ComeBackAsync"/>). It has its own apps and their
/// statuses (<see cref="InstallApp"/>, <see cref="SetAppStatus"/>, <see cref="FailStatusChanges"/>), its own
/// <see cref="Version"/>, an optional <see cref="Delay"/>, and counts every request (<see cref="CallCount"/>).
/// </summary>
public sealed class RocketChatInstance : IAsyncDisposable
{
    private readonly RocketChatState _state;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Lock _lock = new();
    private readonly Dictionary<string, AppSlot> _apps = new(StringComparer.Ordinal);
    private readonly List<RecordedCall> _calls = [];
    private readonly DateTimeOffset _createdAt;
    private WebApplication? _app;
    private volatile RocketChatFailure _failure;
    private volatile string _version;
    private long _delayTicks;
    private DateTimeOffset _downSince;

    internal RocketChatInstance(int index, RocketChatState state, string version)
    {
        Index = index;
        _state = state;
        _version = version;
        _createdAt = state.Time.GetUtcNow();
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

    /// <summary>The Rocket.Chat version <c>/api/info</c> reports; set it to make versions differ between instances.</summary>
    public string Version
    {
        get => _version;
        set => _version = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>Its instance record id (<c>instanceRecord._id</c> in <c>/api/v1/instances.get</c>).</summary>
    public string Id { get; } = RocketChatState.NewId();

    /// <summary>When it was created (<c>instanceRecord._createdAt</c>).</summary>
    public DateTimeOffset CreatedAt => _createdAt;

    /// <summary>How long it waits before answering each request (a slow instance); <see cref="TimeSpan.Zero"/> (the default)
    /// for none. Real time (not the emulator's clock); the request is counted before the wait.</summary>
    public TimeSpan Delay
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _delayTicks));
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            Interlocked.Exchange(ref _delayTicks, value.Ticks);
        }
    }

    /// <summary>Its last heartbeat as <c>/api/v1/instances.get</c> lists it: now while up, frozen at the moment it went down.</summary>
    public DateTimeOffset LastHeartbeat
    {
        get
        {
            lock (_lock)
            {
                return IsDown ? _downSince : _state.Time.GetUtcNow();
            }
        }
    }

    /// <summary>The apps installed on this instance with this instance's status for each, by app id (a snapshot).</summary>
    public IReadOnlyList<RocketChatInstalledApp> Apps
    {
        get
        {
            lock (_lock)
            {
                return [.. _apps.Values.OrderBy(a => a.App.Id, StringComparer.Ordinal).Select(a => new RocketChatInstalledApp(a.App, a.Status))];
            }
        }
    }

    /// <summary>Every request received so far, oldest first (a snapshot).</summary>
    public IReadOnlyList<RecordedCall> Calls
    {
        get
        {
            lock (_lock)
            {
                return [.. _calls];
            }
        }
    }

    /// <summary>How many requests this instance received for <paramref name="endpoint"/> (see <see cref="RocketChatEndpoints"/>,
    /// e.g. <c>POST /api/apps/{id}/status</c>), optionally only those whose path is <paramref name="path"/>.</summary>
    public int CallCount(string endpoint, string? path = null)
    {
        lock (_lock)
        {
            return _calls.Count(c => c.Endpoint == endpoint && (path is null || c.Path == path));
        }
    }

    /// <summary>Forgets the recorded calls.</summary>
    public void ClearCalls()
    {
        lock (_lock)
        {
            _calls.Clear();
        }
    }

    /// <summary>Installs <paramref name="app"/> on this instance with <paramref name="status"/> (replacing an installed one,
    /// and forgetting any failure set for it).</summary>
    /// <exception cref="ArgumentException">When the status is not one of <see cref="RocketChatAppStatus.All"/>.</exception>
    public void InstallApp(RocketChatApp app, string status = RocketChatAppStatus.ManuallyEnabled)
    {
        ArgumentNullException.ThrowIfNull(app);
        CheckStatus(status);
        lock (_lock)
        {
            _apps[app.Id] = new AppSlot(app, status);
        }
    }

    /// <summary>Removes the app from this instance (an app missing on one instance); false when it was not installed.</summary>
    public bool UninstallApp(string appId)
    {
        lock (_lock)
        {
            return _apps.Remove(appId);
        }
    }

    /// <summary>Sets this instance's status of an installed app, as if it drifted on its own.</summary>
    /// <exception cref="KeyNotFoundException">When the app is not installed here.</exception>
    /// <exception cref="ArgumentException">When the status is not one of <see cref="RocketChatAppStatus.All"/>.</exception>
    public void SetAppStatus(string appId, string status)
    {
        CheckStatus(status);
        lock (_lock)
        {
            var slot = Slot(appId);
            slot.Status = status;
            slot.RevertTo = null;
        }
    }

    /// <summary>This instance's status of the app, or null when it is not installed here.</summary>
    public string? AppStatus(string appId)
    {
        lock (_lock)
        {
            return _apps.GetValueOrDefault(appId)?.Status;
        }
    }

    /// <summary>Makes <c>POST /api/apps/{appId}/status</c> misbehave on this instance: every time, or for the next
    /// <paramref name="times"/> calls only (then it works again). <see cref="RocketChatStatusChangeFailure.None"/> heals it.</summary>
    /// <exception cref="KeyNotFoundException">When the app is not installed here.</exception>
    public void FailStatusChanges(string appId, RocketChatStatusChangeFailure failure, int? times = null)
    {
        if (times is { } n)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        }

        lock (_lock)
        {
            var slot = Slot(appId);
            slot.Failure = failure;
            slot.FailuresLeft = failure == RocketChatStatusChangeFailure.None ? null : times;
        }
    }

    /// <summary>The installed apps as <c>/api/apps/installed</c> shows them now; an app whose change reverts after one read
    /// reverts after this one.</summary>
    internal IReadOnlyList<RocketChatInstalledApp> ReadAppsForApi()
    {
        lock (_lock)
        {
            var result = Apps;
            foreach (var slot in _apps.Values)
            {
                if (slot.RevertTo is { } previous)
                {
                    slot.Status = previous;
                    slot.RevertTo = null;
                }
            }

            return result;
        }
    }

    /// <summary>Applies a status change requested through the API: the outcome and the status to answer (null when not installed).</summary>
    internal (RocketChatStatusChangeFailure Failure, string? Answer) ChangeStatusForApi(string appId, string status)
    {
        lock (_lock)
        {
            if (!_apps.TryGetValue(appId, out var slot))
            {
                return (RocketChatStatusChangeFailure.None, null);
            }

            var failure = slot.Failure;
            if (slot.FailuresLeft is { } left)
            {
                slot.FailuresLeft = left - 1;
                if (left - 1 == 0)
                {
                    slot.Failure = RocketChatStatusChangeFailure.None;
                    slot.FailuresLeft = null;
                }
            }

            string previous = slot.Status;
            switch (failure)
            {
                case RocketChatStatusChangeFailure.None:
                    slot.Status = status;
                    slot.RevertTo = null;
                    return (failure, status);
                case RocketChatStatusChangeFailure.DoesNotStick:
                    return (failure, status);
                case RocketChatStatusChangeFailure.RevertsAfterOneRead:
                    slot.Status = status;
                    slot.RevertTo = slot.RevertTo ?? previous;
                    return (failure, status);
                case RocketChatStatusChangeFailure.ErrorDisabled:
                    slot.Status = RocketChatAppStatus.ErrorDisabled;
                    slot.RevertTo = null;
                    return (failure, RocketChatAppStatus.ErrorDisabled);
                default:
                    return (failure, previous);
            }
        }
    }

    private void Count(HttpContext context)
    {
        string endpoint = context.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } pattern }
            ? $"{context.Request.Method} {(pattern.StartsWith('/') ? pattern : "/" + pattern)}"
            : $"{context.Request.Method} {context.Request.Path}";
        string? user = context.Request.Headers.TryGetValue("X-User-Id", out var u) ? u.ToString() : null;
        var call = new RecordedCall(endpoint, context.Request.Path.ToString(), _state.Time.GetUtcNow(), user);
        lock (_lock)
        {
            _calls.Add(call);
        }
    }

    private AppSlot Slot(string appId) =>
        _apps.GetValueOrDefault(appId) ?? throw new KeyNotFoundException($"app {appId} is not installed on instance {Index}");

    private static void CheckStatus(string status)
    {
        if (!RocketChatAppStatus.IsValid(status))
        {
            throw new ArgumentException($"'{status}' is not an app status ({string.Join(", ", RocketChatAppStatus.All)})", nameof(status));
        }
    }

    private sealed class AppSlot(RocketChatApp app, string status)
    {
        public RocketChatApp App { get; } = app;

        public string Status { get; set; } = status;

        public string? RevertTo { get; set; }

        public RocketChatStatusChangeFailure Failure { get; set; }

        public int? FailuresLeft { get; set; }
    }

    internal async Task StartAsync(int port, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseShutdownTimeout(TimeSpan.FromSeconds(1));
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        app.Use(async (context, next) =>
        {
            Count(context);
            if (Delay is { Ticks: > 0 } delay)
            {
                try
                {
                    await Task.Delay(delay, context.RequestAborted).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

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
        InstancesApi.Map(app, api);
        AppsApi.Map(app, api);

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
                lock (_lock)
                {
                    _downSince = _state.Time.GetUtcNow();
                    _app = null;
                }

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
