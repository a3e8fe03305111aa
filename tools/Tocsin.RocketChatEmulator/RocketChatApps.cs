namespace Tocsin.RocketChatEmulator;

/// <summary>The app statuses of Rocket.Chat's Apps-Engine (<c>AppStatus</c>), as <c>/api/apps/installed</c> reports them.</summary>
public static class RocketChatAppStatus
{
    /// <summary><c>unknown</c>.</summary>
    public const string Unknown = "unknown";

    /// <summary><c>constructed</c>.</summary>
    public const string Constructed = "constructed";

    /// <summary><c>initialized</c>.</summary>
    public const string Initialized = "initialized";

    /// <summary><c>auto_enabled</c>: enabled by the server (at start-up); counts as enabled.</summary>
    public const string AutoEnabled = "auto_enabled";

    /// <summary><c>manually_enabled</c>: enabled by an administrator; counts as enabled.</summary>
    public const string ManuallyEnabled = "manually_enabled";

    /// <summary><c>compiler_error_disabled</c>.</summary>
    public const string CompilerErrorDisabled = "compiler_error_disabled";

    /// <summary><c>invalid_license_disabled</c>.</summary>
    public const string InvalidLicenseDisabled = "invalid_license_disabled";

    /// <summary><c>invalid_installation_disabled</c>.</summary>
    public const string InvalidInstallationDisabled = "invalid_installation_disabled";

    /// <summary><c>error_disabled</c>: the app failed (e.g. while being enabled).</summary>
    public const string ErrorDisabled = "error_disabled";

    /// <summary><c>manually_disabled</c>: disabled by an administrator.</summary>
    public const string ManuallyDisabled = "manually_disabled";

    /// <summary><c>invalid_settings_disabled</c>.</summary>
    public const string InvalidSettingsDisabled = "invalid_settings_disabled";

    /// <summary><c>disabled</c>.</summary>
    public const string Disabled = "disabled";

    /// <summary>Every status, in Apps-Engine's order.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        Unknown, Constructed, Initialized, AutoEnabled, ManuallyEnabled, CompilerErrorDisabled, InvalidLicenseDisabled,
        InvalidInstallationDisabled, ErrorDisabled, ManuallyDisabled, InvalidSettingsDisabled, Disabled,
    ];

    /// <summary>Whether <paramref name="status"/> is one of <see cref="All"/> (ordinal).</summary>
    public static bool IsValid(string? status) => status is not null && All.Contains(status, StringComparer.Ordinal);

    /// <summary>Whether the status counts as enabled: <c>auto_enabled</c> or <c>manually_enabled</c>.</summary>
    public static bool IsEnabled(string? status) => status is AutoEnabled or ManuallyEnabled;
}

/// <summary>An app that can be installed on instances (its status is per instance).</summary>
/// <param name="Id">The app id (a UUID in Rocket.Chat), used in <c>/api/apps/{id}/status</c>.</param>
/// <param name="Name">The display name, e.g. <c>ClamAV</c>.</param>
/// <param name="Version">The app version. <value>Default: 1.0.0.</value></param>
public sealed record RocketChatApp(string Id, string Name, string Version = "1.0.0");

/// <summary>An app as installed on one instance, with the status that instance has for it.</summary>
/// <param name="App">The app.</param>
/// <param name="Status">One of <see cref="RocketChatAppStatus.All"/>.</param>
public sealed record RocketChatInstalledApp(RocketChatApp App, string Status);

/// <summary>How an instance handles <c>POST /api/apps/{id}/status</c> for an app (set with <see cref="RocketChatInstance.FailStatusChanges"/>).</summary>
public enum RocketChatStatusChangeFailure
{
    /// <summary>Works: the status is set and answered.</summary>
    None,

    /// <summary>HTTP 500 <c>{"success":false,"error":"Internal server error"}</c>; the status is unchanged.</summary>
    Http500,

    /// <summary>HTTP 400 <c>{"success":false,"error":"…"}</c> (Rocket.Chat's failure shape); the status is unchanged.</summary>
    Refused,

    /// <summary>Answers success with the requested status, but the status stays what it was (the change does not stick).</summary>
    DoesNotStick,

    /// <summary>Answers success and the status changes, but only for the next read of <c>/api/apps/installed</c>: after that
    /// read it reverts to what it was (a verification passes, the next round sees the drift again).</summary>
    RevertsAfterOneRead,

    /// <summary>Answers success with <c>error_disabled</c> and the app becomes <c>error_disabled</c> (the app failed to start,
    /// as Apps-Engine reports it).</summary>
    ErrorDisabled,
}

/// <summary>The keys <see cref="RocketChatInstance.CallCount"/> counts by: HTTP method and route template.</summary>
public static class RocketChatEndpoints
{
    /// <summary><c>GET /api/info</c>.</summary>
    public const string Info = "GET /api/info";

    /// <summary><c>GET /api/apps/installed</c>.</summary>
    public const string AppsInstalled = "GET /api/apps/installed";

    /// <summary><c>POST /api/apps/{id}/status</c>.</summary>
    public const string AppStatusChange = "POST /api/apps/{id}/status";

    /// <summary><c>GET /api/apps/{id}/status</c>.</summary>
    public const string AppStatusGet = "GET /api/apps/{id}/status";

    /// <summary><c>GET /api/v1/instances.get</c>.</summary>
    public const string InstancesGet = "GET /api/v1/instances.get";

    /// <summary><c>POST /api/v1/chat.sendMessage</c>.</summary>
    public const string ChatSendMessage = "POST /api/v1/chat.sendMessage";

    /// <summary><c>POST /api/v1/chat.postMessage</c>.</summary>
    public const string ChatPostMessage = "POST /api/v1/chat.postMessage";
}

/// <summary>A request an instance received (counted before any delay or simulated failure).</summary>
/// <param name="Endpoint">Method and route template, e.g. <c>POST /api/apps/{id}/status</c> (see <see cref="RocketChatEndpoints"/>);
/// for an unknown route, method and path.</param>
/// <param name="Path">The request path, e.g. <c>/api/apps/abc/status</c>.</param>
/// <param name="Time">When it arrived (the emulator's clock).</param>
/// <param name="UserId">The <c>X-User-Id</c> header it carried (checked or not), or null.</param>
public sealed record RecordedCall(string Endpoint, string Path, DateTimeOffset Time, string? UserId = null);

/// <summary>An extra entry of <c>/api/v1/instances.get</c> with no server behind it (an unreachable instance).</summary>
/// <param name="Id">Its instance record id.</param>
/// <param name="Address">The address listed, e.g. <c>127.0.0.1</c> or <c>10.0.0.9</c>.</param>
/// <param name="Port">The port listed in <c>extraInformation.port</c>.</param>
/// <param name="Connected">The <c>currentStatus.connected</c> flag listed.</param>
/// <param name="LastHeartbeat">The <c>currentStatus.lastHeartbeatTime</c> listed, or null for the emulator's now.</param>
public sealed record RocketChatPhantomInstance(string Id, string Address, int Port, bool Connected, DateTimeOffset? LastHeartbeat = null);
