using Microsoft.Extensions.Logging;
using Tocsin.Configuration;

namespace Tocsin.Alerting;

/// <summary>
/// One configured notification channel (an entry of the config's <c>notifications</c> array). Implementations are
/// shared by every delivery to that channel and must be safe for concurrent use.
/// </summary>
public interface INotificationChannel
{
    /// <summary>The channel's unique name (config <c>name</c>).</summary>
    string Name { get; }

    /// <summary>The channel type (config <c>type</c>: <c>webhook</c>, <c>slack</c>, <c>rocketchat</c>, <c>email</c>).</summary>
    string Type { get; }

    /// <summary>
    /// Delivers <paramref name="notification"/> once. Returns when the receiver accepted it (HTTP 2xx, SMTP 250).
    /// </summary>
    /// <exception cref="NotificationDeliveryException">When the receiver refused it or could not be reached; the message
    /// names the channel and the reason and never holds a secret. The notifier retries with back-off.</exception>
    /// <exception cref="OperationCanceledException">When <paramref name="cancellationToken"/> is cancelled (timeout or stop).</exception>
    Task SendAsync(Notification notification, CancellationToken cancellationToken);
}

/// <summary>A channel type: reads its options from configuration and makes channels.</summary>
public interface INotificationChannelType
{
    /// <summary>The name used in configuration's <c>type</c> field, e.g. <c>webhook</c>.</summary>
    string Type { get; }

    /// <summary>
    /// Reads and validates this type's fields of one channel (problems go to the reader's error list; the returned options are
    /// only used when none was recorded). Secrets are read from the field itself, <c>&lt;field&gt;Env</c> (an environment
    /// variable's name) or <c>&lt;field&gt;File</c> (a file whose first line is the secret); see <see cref="SecretField"/>.
    /// </summary>
    object ReadOptions(ConfigObjectReader reader);

    /// <summary>One line describing where the channel sends, without secrets, e.g. <c>POST https://hooks.example/…</c>.</summary>
    string Describe(object options);

    /// <summary>Makes the channel named <paramref name="name"/> from options read by <see cref="ReadOptions"/>.</summary>
    INotificationChannel Create(string name, object options, NotificationChannelContext context);
}

/// <summary>What channels may use: a shared HTTP client (no timeout of its own: deliveries are cancelled by the notifier),
/// the clock and logging.</summary>
public sealed record NotificationChannelContext(HttpClient Http, TimeProvider Time, ILoggerFactory Loggers);

/// <summary>A delivery that failed; the message names the channel and the reason, never a secret.</summary>
public sealed class NotificationDeliveryException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed, e.g. <c>webhook "ops": HTTP 503 Service Unavailable</c>.</param>
    /// <param name="permanent">True when retrying cannot help until the configuration changes (HTTP 400/401/403/404, SMTP 5xx).</param>
    /// <param name="inner">The cause, whose message must not hold secrets either.</param>
    public NotificationDeliveryException(string message, bool permanent = false, Exception? inner = null)
        : base(message, inner) => Permanent = permanent;

    /// <summary>Creates the exception with a message only.</summary>
    public NotificationDeliveryException()
        : this("notification delivery failed")
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public NotificationDeliveryException(string message, Exception inner)
        : this(message, false, inner)
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public NotificationDeliveryException(string message)
        : this(message, false, null)
    {
    }

    /// <summary>True when retrying cannot help until the configuration changes.</summary>
    public bool Permanent { get; }
}

/// <summary>A configured channel as loaded and validated from configuration's <c>notifications</c>.</summary>
/// <param name="Name">Unique name, referenced by checks' <c>notify</c>.</param>
/// <param name="Type">Channel type name.</param>
/// <param name="Options">Type-specific options (secrets already resolved from env or file).</param>
/// <param name="Index">Position in the <c>notifications</c> array.</param>
public sealed record NotificationChannelDefinition(string Name, string Type, object Options, int Index);

/// <summary>The set of channel types an agent knows, by name.</summary>
public sealed class NotificationChannelTypeRegistry
{
    private readonly Dictionary<string, INotificationChannelType> _types;

    /// <summary>Creates the registry.</summary>
    /// <exception cref="ArgumentException">When two types share a name.</exception>
    public NotificationChannelTypeRegistry(IEnumerable<INotificationChannelType> types) =>
        _types = types.ToDictionary(t => t.Type, StringComparer.Ordinal);

    /// <summary>The known type names, sorted.</summary>
    public IReadOnlyList<string> Names => [.. _types.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Finds a type by name.</summary>
    public bool TryGet(string type, out INotificationChannelType channelType) => _types.TryGetValue(type, out channelType!);

    /// <summary>Gets a type by name.</summary>
    /// <exception cref="KeyNotFoundException">When no such type is registered.</exception>
    public INotificationChannelType Get(string type) => _types[type];
}
