using Tocsin.Alerting.Channels;

namespace Tocsin.Alerting;

/// <summary>The notification channel types built into Tocsin.</summary>
public static class NotificationChannelTypes
{
    /// <summary>
    /// The HTTP client channels send with (the agent's, <c>tocsin notify test</c>'s and the benchmark's): no redirect followed
    /// (a PAT or a custom header must not reach another host; a 3xx is a permanent failure), connections renewed every 2 minutes
    /// (DNS changes are seen), 10 s to connect, no timeout of its own (each delivery is cancelled by its caller).
    /// </summary>
    public static HttpClient CreateHttpClient() =>
        new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2), ConnectTimeout = TimeSpan.FromSeconds(10), AllowAutoRedirect = false })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };

    /// <summary>A registry with every built-in type: <c>email</c>, <c>rocketchat</c>, <c>slack</c>, <c>webhook</c>.</summary>
    public static NotificationChannelTypeRegistry CreateDefault() =>
        new([new WebhookChannelType(), new SlackChannelType(), new RocketChatChannelType(), new EmailChannelType()]);
}
