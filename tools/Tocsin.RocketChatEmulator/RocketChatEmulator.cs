namespace Tocsin.RocketChatEmulator;

/// <summary>Settings of an emulated Rocket.Chat cluster.</summary>
public sealed class RocketChatEmulatorOptions
{
    /// <summary>How many instances (servers) to start, each on its own free loopback port. <value>Default: 1.</value></summary>
    public int Instances { get; init; } = 1;

    /// <summary>The version <c>/api/info</c> reports. <value>Default: 6.13.0.</value></summary>
    public string Version { get; init; } = "6.13.0";

    /// <summary>Per-instance versions: instance <c>i</c> reports <c>Versions[i]</c> when present, else <see cref="Version"/>
    /// (to test versions that differ). <value>Default: none.</value></summary>
    public IReadOnlyList<string>? Versions { get; init; }

    /// <summary>The clock messages are stamped with. <value>Default: the system clock.</value></summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>
/// An emulated Rocket.Chat cluster for tests: N instances on 127.0.0.1 sharing one <see cref="State"/> (users, rooms,
/// incoming webhooks, recorded messages). It speaks the real wire formats of the endpoints Tocsin uses:
/// <list type="bullet">
/// <item><c>GET /api/info</c> (no auth) → <c>{"version":"6.13.0","success":true}</c>;</item>
/// <item><c>POST /api/v1/chat.sendMessage</c> <c>{"message":{"rid","msg"}}</c> and <c>POST /api/v1/chat.postMessage</c>
/// <c>{"channel":"#name"|"@user"|"roomId", "roomId"?, "text"}</c>, authenticated by <c>X-User-Id</c> + <c>X-Auth-Token</c> (a
/// personal access token) else 401 <c>{"status":"error","message":"You must be logged in to do this."}</c>;</item>
/// <item><c>GET /api/apps/installed</c>, <c>GET</c>/<c>POST /api/apps/{id}/status</c> (apps and their status are per
/// instance, see <see cref="RocketChatInstance.InstallApp"/>) and <c>GET /api/v1/instances.get</c> (every instance and
/// <see cref="RocketChatState.PhantomInstances"/>), with the same PAT check;</item>
/// <item><c>POST /hooks/{id}/{token}</c> <c>{"text"}</c> (incoming webhook) → <c>{"success":true}</c>, or 404
/// <c>{"success":false,"error":"Invalid integration id or token provided."}</c>.</item>
/// </list>
/// Start with <see cref="StartAsync"/>; dispose to stop.
/// </summary>
public sealed class RocketChatEmulator : IAsyncDisposable
{
    private readonly List<RocketChatInstance> _instances;

    private RocketChatEmulator(RocketChatState state, List<RocketChatInstance> instances)
    {
        State = state;
        _instances = instances;
    }

    /// <summary>What the instances share.</summary>
    public RocketChatState State { get; }

    /// <summary>The instances, in start order.</summary>
    public IReadOnlyList<RocketChatInstance> Instances => _instances;

    /// <summary>The first instance's base address, e.g. <c>http://127.0.0.1:40123/</c>.</summary>
    public Uri BaseAddress => _instances[0].BaseAddress;

    /// <summary>Starts the instances on free loopback ports.</summary>
    /// <exception cref="ArgumentOutOfRangeException">When <see cref="RocketChatEmulatorOptions.Instances"/> is not from 1 to 64.</exception>
    public static async Task<RocketChatEmulator> StartAsync(RocketChatEmulatorOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new RocketChatEmulatorOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Instances, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Instances, 64);
        var state = new RocketChatState(options.Time);
        var instances = new List<RocketChatInstance>();
        var emulator = new RocketChatEmulator(state, instances);
        try
        {
            for (int i = 0; i < options.Instances; i++)
            {
                string version = options.Versions is { } versions && i < versions.Count ? versions[i] : options.Version;
                var instance = new RocketChatInstance(i, state, version);
                instances.Add(instance);
                await instance.StartAsync(0, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            await emulator.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        state.Cluster = [.. instances];

        return emulator;
    }

    /// <summary>Installs <paramref name="app"/> on every instance with <paramref name="status"/>.</summary>
    public void InstallApp(RocketChatApp app, string status = RocketChatAppStatus.ManuallyEnabled)
    {
        foreach (var instance in _instances)
        {
            instance.InstallApp(app, status);
        }
    }

    /// <summary>Installs <paramref name="app"/> with one status per instance, in instance order: <c>null</c> leaves it
    /// uninstalled on that instance; instances past the end of the list do not get it.</summary>
    /// <exception cref="ArgumentException">When there are more statuses than instances, or one is not an app status.</exception>
    public void InstallAppPerInstance(RocketChatApp app, params IReadOnlyList<string?> statuses)
    {
        ArgumentNullException.ThrowIfNull(statuses);
        if (statuses.Count > _instances.Count)
        {
            throw new ArgumentException($"{statuses.Count} statuses for {_instances.Count} instances", nameof(statuses));
        }

        for (int i = 0; i < statuses.Count; i++)
        {
            if (statuses[i] is { } status)
            {
                _instances[i].InstallApp(app, status);
            }
        }
    }

    /// <summary>Every instance's status of the app, in instance order (null where it is not installed).</summary>
    public IReadOnlyList<string?> AppStatuses(string appId) => [.. _instances.Select(i => i.AppStatus(appId))];

    /// <summary>The calls for <paramref name="endpoint"/> (see <see cref="RocketChatEndpoints"/>) over all instances.</summary>
    public int CallCount(string endpoint, string? path = null) => _instances.Sum(i => i.CallCount(endpoint, path));

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var instance in _instances)
        {
            await instance.DisposeAsync().ConfigureAwait(false);
        }
    }
}
