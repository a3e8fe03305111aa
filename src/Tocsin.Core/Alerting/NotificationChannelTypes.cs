using Tocsin.Alerting.Channels;

namespace Tocsin.Alerting;

/// <summary>The notification channel types built into Tocsin.</summary>
public static class NotificationChannelTypes
{
    /// <summary>A registry with every built-in type: <c>email</c>, <c>rocketchat</c>, <c>slack</c>, <c>webhook</c>.</summary>
    public static NotificationChannelTypeRegistry CreateDefault() =>
        new([new WebhookChannelType(), new SlackChannelType(), new RocketChatChannelType(), new EmailChannelType()]);
}
