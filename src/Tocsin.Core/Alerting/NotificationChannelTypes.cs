namespace Tocsin.Alerting;

/// <summary>The notification channel types built into Tocsin.</summary>
public static class NotificationChannelTypes
{
    /// <summary>A registry with every built-in type.</summary>
    public static NotificationChannelTypeRegistry CreateDefault() => new([]);
}
