using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Tocsin.Checks;
using Tocsin.Configuration;

namespace Tocsin.Alerting.Channels;

/// <summary>Options of a <c>slack</c> channel. <see cref="object.ToString"/> is not overridden: the URL is never printed.</summary>
public sealed class SlackChannelOptions
{
    /// <summary>The incoming webhook URL (config <c>url</c>, <c>urlEnv</c> or <c>urlFile</c>); a secret as a whole.</summary>
    public required Uri Url { get; init; }

    /// <summary>A channel overriding the webhook's own (config <c>channel</c>, e.g. <c>#alerts</c>), or null.</summary>
    public string? Channel { get; init; }

    /// <summary>The sender's name (config <c>username</c>), or null for the webhook's.</summary>
    public string? Username { get; init; }

    /// <summary>The sender's icon (config <c>iconEmoji</c>, e.g. <c>:rotating_light:</c>), or null.</summary>
    public string? IconEmoji { get; init; }

    /// <summary>Whether the body goes in an attachment coloured by state (config <c>attachments</c>). <value>Default: true.</value></summary>
    public bool Attachments { get; init; } = true;
}

/// <summary>
/// The <c>slack</c> channel type: a Slack incoming webhook, or any service that accepts its format (Mattermost,
/// Rocket.Chat's Slack-compatible hooks…).
/// </summary>
/// <remarks>
/// <para>Configuration: <c>{"name": "alerts", "type": "slack", "urlEnv": "SLACK_WEBHOOK_URL", "channel": "#ops",
/// "username": "Tocsin", "iconEmoji": ":rotating_light:", "attachments": true}</c>; the URL (<c>url</c>, <c>urlEnv</c> or
/// <c>urlFile</c>) is a secret: it is printed as <c>https://hooks.slack.com/…</c> only.</para>
/// <para>Body (Slack's incoming-webhook format): <c>{"text": "*&lt;title&gt;*", "channel"?, "username"?, "icon_emoji"?,
/// "attachments": [{"color": "#d50200", "fallback": "&lt;title&gt;", "text": "&lt;body in mrkdwn&gt;", "mrkdwn_in": ["text"]}]}</c>;
/// with <c>"attachments": false</c>, <c>{"text": "*&lt;title&gt;*\n&lt;body&gt;"}</c>. Colours: CRITICAL <c>#d50200</c>,
/// WARNING <c>#de9e31</c>, UNKNOWN <c>#9e9e9e</c>, OK <c>#2eb886</c>, acknowledged and test <c>#439fe0</c>.</para>
/// <para>Outcome: HTTP 2xx (Slack answers <c>ok</c>) = delivered; 408/429/5xx and network errors = transient; other 4xx
/// (<c>invalid_payload</c>, <c>no_service</c>, <c>channel_not_found</c>…) = permanent.</para>
/// </remarks>
public sealed class SlackChannelType : INotificationChannelType
{
    /// <summary>The type's name in configuration.</summary>
    public const string TypeName = "slack";

    /// <inheritdoc />
    public string Type => TypeName;

    /// <inheritdoc />
    public object ReadOptions(ConfigObjectReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader;
        string? urlText = SecretField.Read(r, "url", required: true);
        var url = ChannelConfig.HttpUrl(r, "url", urlText, secret: true);
        string? channel = ChannelConfig.NonEmpty(r, "channel");
        string? username = ChannelConfig.NonEmpty(r, "username");
        string? icon = ChannelConfig.NonEmpty(r, "iconEmoji");
        if (icon is not null && (icon.Length < 3 || icon[0] != ':' || icon[^1] != ':' || icon[1..^1].Any(char.IsWhiteSpace)))
        {
            r.Error("iconEmoji", ConfigObjectReader.Quote(icon), "must be an emoji code between colons, e.g. \":rotating_light:\"");
        }

        bool attachments = r.Bool("attachments") ?? true;
        return new SlackChannelOptions
        {
            Url = url ?? new Uri("https://invalid.invalid/"), Channel = channel, Username = username, IconEmoji = icon, Attachments = attachments,
        };
    }

    /// <inheritdoc />
    public string Describe(object options) =>
        options is SlackChannelOptions o ? $"{HttpDelivery.Origin(o.Url)}{(o.Channel is null ? "" : " " + o.Channel)}" : "";

    /// <inheritdoc />
    public INotificationChannel Create(string name, object options, NotificationChannelContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new SlackChannel(name, (SlackChannelOptions)options, context);
    }
}

/// <summary>One <c>slack</c> channel; see <see cref="SlackChannelType"/>. Safe for concurrent use.</summary>
public sealed class SlackChannel : INotificationChannel
{
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly SlackChannelOptions _options;
    private readonly NotificationChannelContext _context;
    private readonly ILogger _logger;
    private readonly SecretScrubber _scrubber;
    private readonly string _who;
    private readonly string _target;

    /// <summary>Creates the channel.</summary>
    public SlackChannel(string name, SlackChannelOptions options, NotificationChannelContext context)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(context);
        Name = name;
        _options = options;
        _context = context;
        _logger = context.Loggers.CreateLogger<SlackChannel>();
        _scrubber = new SecretScrubber(SecretScrubber.UrlParts(options.Url));
        _who = $"slack {ConfigObjectReader.Quote(name)}";
        _target = HttpDelivery.Origin(options.Url);
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public string Type => SlackChannelType.TypeName;

    /// <summary>The attachment colour of a notification, e.g. <c>#d50200</c> for CRITICAL.</summary>
    public static string Color(Notification notification)
    {
        ArgumentNullException.ThrowIfNull(notification);
        if (notification.Type is NotificationType.Acknowledged or NotificationType.Test)
        {
            return "#439fe0";
        }

        return notification.State switch
        {
            CheckState.OK => "#2eb886",
            CheckState.WARNING => "#de9e31",
            CheckState.CRITICAL => "#d50200",
            _ => "#9e9e9e",
        };
    }

    /// <summary>The JSON body sent for <paramref name="notification"/> (UTF-8).</summary>
    public byte[] Body(Notification notification)
    {
        ArgumentNullException.ThrowIfNull(notification);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, JsonOptions))
        {
            json.WriteStartObject();
            string title = NotificationText.Title(notification);
            if (_options.Attachments)
            {
                json.WriteString("text", NotificationText.Markdown(notification, MarkdownFlavor.Slack).Split('\n')[0]);
            }
            else
            {
                json.WriteString("text", NotificationText.Markdown(notification, MarkdownFlavor.Slack));
            }

            if (_options.Channel is { } channel)
            {
                json.WriteString("channel", channel);
            }

            if (_options.Username is { } username)
            {
                json.WriteString("username", username);
            }

            if (_options.IconEmoji is { } icon)
            {
                json.WriteString("icon_emoji", icon);
            }

            if (_options.Attachments)
            {
                json.WriteStartArray("attachments");
                json.WriteStartObject();
                json.WriteString("color", Color(notification));
                json.WriteString("fallback", title);
                json.WriteString("text", NotificationText.MarkdownBody(notification, MarkdownFlavor.Slack));
                json.WriteStartArray("mrkdwn_in");
                json.WriteStringValue("text");
                json.WriteEndArray();
                json.WriteEndObject();
                json.WriteEndArray();
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
            using var request = new HttpRequestMessage(HttpMethod.Post, _options.Url);
            request.Content = new ByteArrayContent(Body(notification));
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            request.Headers.UserAgent.ParseAdd($"Tocsin/{VersionInfo.Version}");
            await HttpDelivery.PostExpectingSuccessAsync(_context.Http, request, _who, _target, _scrubber, cancellationToken).ConfigureAwait(false);

            ChannelLog.Delivered(_logger, this, notification, _target, started);
        }
        catch (NotificationDeliveryException ex)
        {
            ChannelLog.Failed(_logger, this, notification, ex, started);
            throw;
        }
    }
}
