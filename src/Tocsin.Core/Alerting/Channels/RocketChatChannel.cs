using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Tocsin.Configuration;

namespace Tocsin.Alerting.Channels;

/// <summary>How a <c>rocketchat</c> channel posts.</summary>
public enum RocketChatMode
{
    /// <summary>The REST API with a personal access token: <c>chat.sendMessage</c> (room id) or <c>chat.postMessage</c> (<c>#channel</c>, <c>@user</c>).</summary>
    Rest,

    /// <summary>An incoming webhook (<c>/hooks/&lt;id&gt;/&lt;token&gt;</c>).</summary>
    Webhook,
}

/// <summary>Options of a <c>rocketchat</c> channel. <see cref="object.ToString"/> is not overridden: no secret is ever printed.</summary>
public sealed class RocketChatChannelOptions
{
    /// <summary>Which API is used.</summary>
    public RocketChatMode Mode { get; init; }

    /// <summary>REST: the server's base URL (config <c>serverUrl</c>, e.g. <c>https://chat.example.org</c>; a path prefix is kept).</summary>
    public Uri? ServerUrl { get; init; }

    /// <summary>REST: the sending user's id (config <c>userId</c>), sent as <c>X-User-Id</c>.</summary>
    public string? UserId { get; init; }

    /// <summary>REST: the user's personal access token (config <c>pat</c>, <c>patEnv</c> or <c>patFile</c>), sent as <c>X-Auth-Token</c>.</summary>
    public string? Pat { get; init; }

    /// <summary>REST: a room id (<c>rid</c>), <c>#channel</c> or <c>@user</c> (config <c>room</c>).</summary>
    public string? Room { get; init; }

    /// <summary>Webhook: the incoming webhook's URL (config <c>webhookUrl</c>, <c>webhookUrlEnv</c> or <c>webhookUrlFile</c>); a secret.</summary>
    public Uri? WebhookUrl { get; init; }

    /// <summary>Whether <see cref="Room"/> names a channel or user (<c>#…</c>, <c>@…</c>) rather than a room id.</summary>
    public bool RoomIsName => Room is ['#' or '@', ..];
}

/// <summary>
/// The <c>rocketchat</c> channel type: a message in a Rocket.Chat room, through the REST API or an incoming webhook.
/// </summary>
/// <remarks>
/// <para>REST (the format seed 000's monitor uses for its alerts):
/// <c>{"name": "ops-room", "type": "rocketchat", "serverUrl": "https://chat.example.org", "userId": "…", "patEnv": "RC_PAT",
/// "room": "GENERAL"}</c>. With a room id, <c>POST {serverUrl}/api/v1/chat.sendMessage</c> with
/// <c>{"message": {"rid": "&lt;room&gt;", "msg": "&lt;text&gt;"}}</c>; with <c>#channel</c> or <c>@user</c>,
/// <c>POST {serverUrl}/api/v1/chat.postMessage</c> with <c>{"channel": "&lt;room&gt;", "text": "&lt;text&gt;"}</c>; headers
/// <c>X-User-Id</c> and <c>X-Auth-Token</c> (the PAT).</para>
/// <para>Incoming webhook: <c>{"name": "ops-hook", "type": "rocketchat", "webhookUrlFile": "/etc/tocsin/rc-hook"}</c>;
/// <c>POST &lt;webhookUrl&gt;</c> with <c>{"text": "&lt;text&gt;"}</c>. The URL holds the hook's token: a secret.</para>
/// <para>Give exactly one of the two forms. The text is <see cref="NotificationText.Markdown"/> in Rocket.Chat's flavour.</para>
/// <para>Outcome: HTTP 2xx with <c>"success": true</c> = delivered; a reply <c>{"success": false, "error": …}</c>, HTTP 401/403
/// (PAT refused) and other 4xx = permanent; 408/429/5xx and network errors = transient.</para>
/// </remarks>
public sealed class RocketChatChannelType : INotificationChannelType
{
    /// <summary>The type's name in configuration.</summary>
    public const string TypeName = "rocketchat";

    private const string Forms = "give either \"serverUrl\" + \"userId\" + \"pat\" (or \"patEnv\"/\"patFile\") + \"room\" (REST API), or \"webhookUrl\" (or \"webhookUrlEnv\"/\"webhookUrlFile\": an incoming webhook)";

    /// <inheritdoc />
    public string Type => TypeName;

    /// <inheritdoc />
    public object ReadOptions(ConfigObjectReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader;
        string[] restFields = ["serverUrl", "userId", "pat", "patEnv", "patFile", "room"];
        string[] hookFields = ["webhookUrl", "webhookUrlEnv", "webhookUrlFile"];
        var restGiven = restFields.Where(r.Has).ToList();
        var hookGiven = hookFields.Where(r.Has).ToList();
        if (restGiven.Count > 0 && hookGiven.Count > 0)
        {
            r.Error(hookGiven[0], null, $"cannot be combined with {string.Join(", ", restGiven.Select(f => "\"" + f + "\""))}; {Forms}");
            return new RocketChatChannelOptions();
        }

        if (restGiven.Count == 0 && hookGiven.Count == 0)
        {
            r.Error("serverUrl", null, $"is required: {Forms}");
            return new RocketChatChannelOptions();
        }

        if (hookGiven.Count > 0)
        {
            string? hook = SecretField.Read(r, "webhookUrl", required: true);
            return new RocketChatChannelOptions { Mode = RocketChatMode.Webhook, WebhookUrl = ChannelConfig.HttpUrl(r, "webhookUrl", hook, secret: true) };
        }

        string? serverText = r.String("serverUrl");
        if (serverText is null)
        {
            r.Error("serverUrl", null, $"is required with the REST API, e.g. \"https://chat.example.org\"; {Forms}");
        }

        var server = ChannelConfig.HttpUrl(r, "serverUrl", serverText, secret: false);
        if (server is not null && (server.Query.Length > 0 || server.Fragment.Length > 0))
        {
            r.Error("serverUrl", $"\"{HttpDelivery.Redact(server)}\"", "must be the server's base URL, without query or fragment");
        }

        string? userId = ChannelConfig.NonEmpty(r, "userId", required: true, example: "the id shown with the personal access token");
        string? pat = SecretField.Read(r, "pat", required: true);
        string? room = ChannelConfig.NonEmpty(r, "room", required: true, example: "a room id, \"#channel\" or \"@user\"");
        if (room is not null && (room.Any(char.IsWhiteSpace) || room is "#" or "@"))
        {
            r.Error("room", ConfigObjectReader.Quote(room), "must be a room id (rid), \"#channel\" or \"@user\", without spaces");
        }

        return new RocketChatChannelOptions { Mode = RocketChatMode.Rest, ServerUrl = server, UserId = userId, Pat = pat, Room = room };
    }

    /// <inheritdoc />
    public string Describe(object options) => options switch
    {
        RocketChatChannelOptions { Mode: RocketChatMode.Webhook, WebhookUrl: { } hook } => $"incoming webhook {HttpDelivery.Redact(hook)}",
        RocketChatChannelOptions { ServerUrl: { } server } o => $"{(o.RoomIsName ? "chat.postMessage" : "chat.sendMessage")} to {o.Room} on {HttpDelivery.Redact(server)} as {o.UserId}",
        _ => "",
    };

    /// <inheritdoc />
    public INotificationChannel Create(string name, object options, NotificationChannelContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new RocketChatChannel(name, (RocketChatChannelOptions)options, context);
    }
}

/// <summary>One <c>rocketchat</c> channel; see <see cref="RocketChatChannelType"/>. Safe for concurrent use.</summary>
public sealed class RocketChatChannel : INotificationChannel
{
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly RocketChatChannelOptions _options;
    private readonly NotificationChannelContext _context;
    private readonly ILogger _logger;
    private readonly SecretScrubber _scrubber;
    private readonly string _who;
    private readonly string _target;
    private readonly Uri _endpoint;

    /// <summary>Creates the channel.</summary>
    /// <exception cref="ArgumentException">When the options lack the URL of their mode.</exception>
    public RocketChatChannel(string name, RocketChatChannelOptions options, NotificationChannelContext context)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(context);
        Name = name;
        _options = options;
        _context = context;
        _logger = context.Loggers.CreateLogger<RocketChatChannel>();
        _who = $"rocketchat {ConfigObjectReader.Quote(name)}";
        if (options.Mode == RocketChatMode.Webhook)
        {
            var hook = options.WebhookUrl ?? throw new ArgumentException("a webhook channel needs WebhookUrl", nameof(options));
            _endpoint = hook;
            _target = HttpDelivery.Redact(hook);
            _scrubber = new SecretScrubber(SecretScrubber.UrlParts(hook));
        }
        else
        {
            var server = options.ServerUrl ?? throw new ArgumentException("a REST channel needs ServerUrl", nameof(options));
            string path = options.RoomIsName ? "api/v1/chat.postMessage" : "api/v1/chat.sendMessage";
            _endpoint = new Uri(new Uri(server.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/"), path);
            _target = $"{server.GetLeftPart(UriPartial.Authority)}/…/{path["api/v1/".Length..]}";
            _scrubber = new SecretScrubber([options.Pat]);
        }
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public string Type => RocketChatChannelType.TypeName;

    /// <summary>The JSON body sent for <paramref name="notification"/> (UTF-8), in the mode's format.</summary>
    public byte[] Body(Notification notification)
    {
        string text = NotificationText.Markdown(notification, MarkdownFlavor.RocketChat);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, JsonOptions))
        {
            json.WriteStartObject();
            if (_options.Mode == RocketChatMode.Webhook)
            {
                json.WriteString("text", text);
            }
            else if (_options.RoomIsName)
            {
                json.WriteString("channel", _options.Room);
                json.WriteString("text", text);
            }
            else
            {
                json.WriteStartObject("message");
                json.WriteString("rid", _options.Room);
                json.WriteString("msg", text);
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <inheritdoc />
    public async Task SendAsync(Notification notification, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notification);
        long started = Stopwatch.GetTimestamp();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, _endpoint);
            request.Content = new ByteArrayContent(Body(notification));
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            request.Headers.UserAgent.ParseAdd($"Tocsin/{VersionInfo.Version}");
            if (_options.Mode == RocketChatMode.Rest)
            {
                request.Headers.TryAddWithoutValidation("X-User-Id", _options.UserId);
                request.Headers.TryAddWithoutValidation("X-Auth-Token", _options.Pat);
            }

            using var response = await HttpDelivery.SendAsync(_context.Http, request, _who, _target, _scrubber, cancellationToken).ConfigureAwait(false);
            string answer = await HttpDelivery.ReadAnswerAsync(response, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw HttpDelivery.StatusFailure(_who, _target, response, answer, _scrubber);
            }

            if (!Succeeded(answer, out string? error))
            {
                throw new NotificationDeliveryException(
                    _scrubber.Scrub($"{_who}: {_target} answered HTTP {(int)response.StatusCode} without \"success\": true{(error is null ? "" : ": " + HttpDelivery.Quote(error))}"),
                    permanent: true);
            }

            ChannelLog.Delivered(_logger, this, notification, _target, started);
        }
        catch (NotificationDeliveryException ex)
        {
            ChannelLog.Failed(_logger, this, notification, ex, started);
            throw;
        }
    }

    /// <summary>Whether a Rocket.Chat reply says <c>"success": true</c>; else its <c>error</c> (or the whole reply when not JSON).</summary>
    private static bool Succeeded(string answer, out string? error)
    {
        error = null;
        try
        {
            using var doc = JsonDocument.Parse(answer);
            if (doc.RootElement.ValueKind == JsonValueKind.Object)
            {
                var root = doc.RootElement;
                if (root.TryGetProperty("success", out var s) && s.ValueKind == JsonValueKind.True)
                {
                    return true;
                }

                if (root.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String)
                {
                    error = e.GetString();
                }
                else if (root.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String)
                {
                    error = m.GetString();
                }

                return false;
            }
        }
        catch (JsonException)
        {
            // Not Rocket.Chat (a proxy's page?): quoted below.
        }

        error = answer.Length > 0 ? answer : "(empty reply)";
        return false;
    }
}
