using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Tocsin.Configuration;

namespace Tocsin.Alerting.Channels;

/// <summary>Options of a <c>webhook</c> channel. <see cref="object.ToString"/> is not overridden: no secret is ever printed.</summary>
public sealed class WebhookChannelOptions
{
    /// <summary>Where to send (config <c>url</c>); its query may hold a token and is never printed.</summary>
    public required Uri Url { get; init; }

    /// <summary><c>POST</c> or <c>PUT</c> (config <c>method</c>). <value>Default: POST.</value></summary>
    public string Method { get; init; } = "POST";

    /// <summary>Extra request headers (config <c>headers</c>: name → value). Values may be credentials: never logged or printed.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>The HMAC-SHA256 key (config <c>secret</c>, <c>secretEnv</c> or <c>secretFile</c>), or null: then no signature.</summary>
    public string? Secret { get; init; }

    /// <summary>A body template (config <c>template</c>), or null for the JSON payload of <see cref="WebhookPayload"/>.</summary>
    public WebhookTemplate? Template { get; init; }

    /// <summary>The body's media type (config <c>templateContentType</c>, only with a template). <value>Default: application/json.</value></summary>
    public string ContentType { get; init; } = "application/json";
}

/// <summary>
/// The <c>webhook</c> channel type: an HTTP POST (or PUT) of a JSON document to any URL.
/// </summary>
/// <remarks>
/// <para>Configuration (an entry of <c>notifications</c>):
/// <code>
/// { "name": "ops", "type": "webhook", "url": "https://hooks.example.org/tocsin",
///   "method": "POST",                        // or "PUT"; default POST
///   "headers": { "Authorization": "Bearer …" }, // optional; values are never logged
///   "secretEnv": "TOCSIN_WEBHOOK_SECRET",    // optional HMAC key: "secret", "secretEnv" or "secretFile"
///   "template": "{\"text\": \"{{title}}\"}", // optional; default: the JSON payload of WebhookPayload
///   "templateContentType": "application/json" }
/// </code></para>
/// <para>Body: by default the JSON object documented on <see cref="WebhookPayload"/>; with <c>template</c>, the template with its
/// <c>{{field}}</c> placeholders replaced (see <see cref="WebhookTemplate"/>).</para>
/// <para>Headers always sent: <c>Content-Type: application/json</c> (or <c>templateContentType</c>; <c>charset=utf-8</c> added to a <c>text/…</c> type without one),
/// <c>User-Agent: Tocsin/&lt;version&gt;</c>, <c>Idempotency-Key: &lt;idempotencyKey&gt;</c> (the same on every retry: de-duplicate on it),
/// <c>X-Tocsin-Event: &lt;type&gt;</c>. With a secret also <c>X-Tocsin-Timestamp: &lt;unix seconds&gt;</c> and
/// <c>X-Tocsin-Signature: sha256=&lt;lower-case hex of HMAC-SHA256(key = secret as UTF-8, message = "&lt;timestamp&gt;.&lt;body bytes&gt;")&gt;</c>.
/// A receiver verifies by computing the same HMAC over the timestamp header, a dot and the raw body as received, comparing it in
/// constant time with the signature header, and refusing timestamps more than a few minutes from its clock (against replays).</para>
/// <para>Outcome: HTTP 2xx = delivered; 408, 429, 5xx, connection errors and timeouts = transient
/// <see cref="NotificationDeliveryException"/>; other statuses (3xx are not followed, 4xx) = permanent. Messages show the URL
/// as <c>scheme://host/first-segment/…</c> only, never its query, a header value or the secret.</para>
/// </remarks>
public sealed class WebhookChannelType : INotificationChannelType
{
    /// <summary>The type's name in configuration.</summary>
    public const string TypeName = "webhook";

    /// <summary>Methods a webhook may use.</summary>
    public static readonly IReadOnlyList<string> Methods = ["POST", "PUT"];

    /// <summary>Headers Tocsin sets itself, which <c>headers</c> may not give.</summary>
    public static readonly IReadOnlyList<string> ReservedHeaders =
        ["Content-Type", "Content-Length", "Host", "User-Agent", "Idempotency-Key", "X-Tocsin-Event", "X-Tocsin-Signature", "X-Tocsin-Timestamp", "Transfer-Encoding"];

    /// <inheritdoc />
    public string Type => TypeName;

    /// <inheritdoc />
    public object ReadOptions(ConfigObjectReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader;
        string? urlText = r.String("url", required: true);
        var url = ChannelConfig.HttpUrl(r, "url", urlText, secret: false);
        string method = ChannelConfig.OneOf(r, "method", Methods) ?? "POST";
        var headers = r.StringMap("headers") ?? new Dictionary<string, string>();
        foreach (var (name, value) in headers)
        {
            if (name.Length == 0 || !name.All(IsTokenChar))
            {
                r.Error("headers", ConfigObjectReader.Quote(name), "is not a valid header name (letters, digits and !#$%&'*+-.^_`|~)");
            }
            else if (ReservedHeaders.Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                r.Error("headers", ConfigObjectReader.Quote(name), $"is set by Tocsin and cannot be given; reserved: {string.Join(", ", ReservedHeaders)} (use \"templateContentType\" for the content type)");
            }
            else if (value.Any(ch => char.IsControl(ch) && ch != '\t'))
            {
                r.Error("headers", null, $"the value of header {ConfigObjectReader.Quote(name)} holds a line break or control character (the value is not shown)");
            }
        }

        string? secret = SecretField.Read(r, "secret");
        WebhookTemplate? template = null;
        string? templateText = r.String("template");
        if (templateText is not null)
        {
            template = WebhookTemplate.TryParse(templateText, out var unknown);
            foreach (string placeholder in unknown)
            {
                r.Error("template", ConfigObjectReader.Quote(placeholder),
                    $"unknown placeholder; allowed: {string.Join(", ", WebhookPayload.FieldNames.Select(f => "{{" + f + "}}"))}");
            }
        }

        string? contentType = r.String("templateContentType");
        if (contentType is not null)
        {
            if (templateText is null)
            {
                r.Error("templateContentType", ConfigObjectReader.Quote(contentType), "is only used with \"template\"; the default body is always application/json");
            }
            else if (!MediaTypeHeaderValue.TryParse(contentType, out _))
            {
                r.Error("templateContentType", ConfigObjectReader.Quote(contentType), "is not a media type, e.g. \"application/json\" or \"text/plain; charset=utf-8\"");
            }
        }

        return new WebhookChannelOptions
        {
            Url = url ?? new Uri("http://invalid.invalid/"),
            Method = method,
            Headers = headers,
            Secret = secret,
            Template = template,
            ContentType = contentType ?? "application/json",
        };
    }

    /// <inheritdoc />
    public string Describe(object options) =>
        options is WebhookChannelOptions o
            ? $"{o.Method} {HttpDelivery.Redact(o.Url)}{(o.Secret is null ? "" : ", signed")}{(o.Template is null ? "" : ", template")}"
            : "";

    /// <inheritdoc />
    public INotificationChannel Create(string name, object options, NotificationChannelContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new WebhookChannel(name, (WebhookChannelOptions)options, context);
    }

    private static bool IsTokenChar(char ch) => char.IsAsciiLetterOrDigit(ch) || "!#$%&'*+-.^_`|~".Contains(ch, StringComparison.Ordinal);
}

/// <summary>One <c>webhook</c> channel; see <see cref="WebhookChannelType"/> for the request it sends. Safe for concurrent use.</summary>
public sealed class WebhookChannel : INotificationChannel
{
    private readonly WebhookChannelOptions _options;
    private readonly NotificationChannelContext _context;
    private readonly ILogger _logger;
    private readonly SecretScrubber _scrubber;
    private readonly string _who;
    private readonly string _target;

    /// <summary>Creates the channel.</summary>
    public WebhookChannel(string name, WebhookChannelOptions options, NotificationChannelContext context)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(context);
        Name = name;
        _options = options;
        _context = context;
        _logger = context.Loggers.CreateLogger<WebhookChannel>();
        _scrubber = new SecretScrubber([options.Secret, options.Url.UserInfo, .. SecretScrubber.QueryValues(options.Url), .. options.Headers.Values.SelectMany(SecretScrubber.WithParts)]);
        _who = $"webhook {ConfigObjectReader.Quote(name)}";
        _target = HttpDelivery.Redact(options.Url);
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public string Type => WebhookChannelType.TypeName;

    /// <inheritdoc />
    public async Task SendAsync(Notification notification, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notification);
        long started = Stopwatch.GetTimestamp();
        try
        {
            byte[] body = _options.Template is { } template ? WebhookPayload.Utf8.GetBytes(template.Render(notification)) : WebhookPayload.Serialize(notification);
            using var request = new HttpRequestMessage(new HttpMethod(_options.Method), _options.Url);
            request.Content = new ByteArrayContent(body);
            var contentType = MediaTypeHeaderValue.Parse(_options.ContentType);
            if (contentType.CharSet is null && contentType.MediaType?.StartsWith("text/", StringComparison.OrdinalIgnoreCase) == true)
            {
                contentType.CharSet = "utf-8";
            }

            request.Content.Headers.ContentType = contentType;
            request.Headers.UserAgent.ParseAdd($"Tocsin/{VersionInfo.Version}");
            request.Headers.TryAddWithoutValidation("Idempotency-Key", notification.IdempotencyKey);
            request.Headers.TryAddWithoutValidation("X-Tocsin-Event", notification.Type.Name());
            if (_options.Secret is { } secret)
            {
                string timestamp = _context.Time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
                request.Headers.TryAddWithoutValidation("X-Tocsin-Timestamp", timestamp);
                request.Headers.TryAddWithoutValidation("X-Tocsin-Signature", "sha256=" + Sign(secret, timestamp, body));
            }

            foreach (var (name, value) in _options.Headers)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            await HttpDelivery.PostExpectingSuccessAsync(_context.Http, request, _who, _target, _scrubber, cancellationToken).ConfigureAwait(false);

            ChannelLog.Delivered(_logger, this, notification, _target, started);
        }
        catch (NotificationDeliveryException ex)
        {
            ChannelLog.Failed(_logger, this, notification, ex, started);
            throw;
        }
    }

    /// <summary>
    /// The signature of a body: lower-case hex of HMAC-SHA256 with <paramref name="secret"/> (UTF-8) as key over
    /// <c>"&lt;timestamp&gt;.&lt;body&gt;"</c> (the timestamp's ASCII digits, a dot, the body's bytes as sent).
    /// </summary>
    public static string Sign(string secret, string timestamp, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(secret);
        ArgumentNullException.ThrowIfNull(timestamp);
        byte[] prefix = Encoding.ASCII.GetBytes(timestamp + ".");
        byte[] message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        return Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), message));
    }
}
