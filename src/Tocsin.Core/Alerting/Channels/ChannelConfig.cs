using Microsoft.Extensions.Logging;
using Tocsin.Configuration;

namespace Tocsin.Alerting.Channels;

/// <summary>Configuration reading shared by the channel types.</summary>
internal static class ChannelConfig
{
    /// <summary>
    /// Checks <paramref name="text"/> is an absolute http(s) URL with a host and without user info; records an error naming
    /// <paramref name="field"/> otherwise. The error shows the value redacted (origin and first path segment, see
    /// <see cref="HttpDelivery.Redact"/>), or not at all when <paramref name="secret"/>.
    /// </summary>
    public static Uri? HttpUrl(ConfigObjectReader r, string field, string? text, bool secret)
    {
        if (text is null)
        {
            return null;
        }

        bool parsed = Uri.TryCreate(text.Trim(), UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Host.Length > 0;
        string? shown = secret ? null : parsed ? $"\"{HttpDelivery.Redact(uri!)}\"" : ConfigObjectReader.Quote(text.Length > 12 ? text[..12] + "..." : text);
        string hidden = secret ? " (the value is not shown: it is a secret)" : "";
        if (!parsed)
        {
            r.Error(field, shown, $"must be an absolute http:// or https:// URL with a host{hidden}");
            return null;
        }

        if (uri!.UserInfo.Length > 0)
        {
            r.Error(field, shown, $"must not hold credentials (user:password@); they are not sent{hidden}");
            return null;
        }

        return uri;
    }

    /// <summary>A string field that, when present, must be one of <paramref name="allowed"/> (ordinal, case-insensitive); returns it lower-cased.</summary>
    public static string? OneOf(ConfigObjectReader r, string field, IReadOnlyList<string> allowed)
    {
        string? value = r.String(field);
        if (value is null)
        {
            return null;
        }

        string? match = allowed.FirstOrDefault(a => string.Equals(a, value, StringComparison.OrdinalIgnoreCase));
        if (match is null)
        {
            r.Error(field, ConfigObjectReader.Quote(value), $"allowed: {string.Join(", ", allowed)}");
        }

        return match;
    }

    /// <summary>An optional non-empty string field.</summary>
    public static string? NonEmpty(ConfigObjectReader r, string field, bool required = false, string? example = null)
    {
        string? value = r.String(field);
        if (value is null)
        {
            if (required)
            {
                r.Error(field, null, example is null ? "is required" : $"is required, e.g. {example}");
            }

            return null;
        }

        if (value.Trim().Length == 0)
        {
            r.Error(field, ConfigObjectReader.Quote(value), "must not be empty");
            return null;
        }

        return value.Trim();
    }
}

/// <summary>Log lines of the channels; targets are redacted and no secret is ever an argument.</summary>
internal static partial class ChannelLog
{
    /// <summary>Logs (at Debug) that <paramref name="notification"/> was delivered; <paramref name="started"/> is a <see cref="System.Diagnostics.Stopwatch"/> timestamp.</summary>
    public static void Delivered(ILogger logger, INotificationChannel channel, Notification notification, string target, long started)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            string type = notification.Type.Name();
            long elapsedMs = (long)System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            Delivered(logger, type, notification.Id, channel.Type, channel.Name, target, elapsedMs);
        }
    }

    /// <summary>Logs (at Debug) that delivering <paramref name="notification"/> failed (the notifier logs and retries).</summary>
    public static void Failed(ILogger logger, INotificationChannel channel, Notification notification, NotificationDeliveryException failure, long started)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            string type = notification.Type.Name();
            long elapsedMs = (long)System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            Failed(logger, type, notification.Id, channel.Type, channel.Name, elapsedMs, failure.Message, failure.Permanent);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Delivered {NotificationType} notification {Id} to {ChannelType} channel {Channel} ({Target}) in {ElapsedMs} ms")]
    private static partial void Delivered(ILogger logger, string notificationType, Guid id, string channelType, string channel, string target, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Delivery of {NotificationType} notification {Id} to {ChannelType} channel {Channel} failed after {ElapsedMs} ms: {Reason} (permanent: {Permanent})")]
    private static partial void Failed(ILogger logger, string notificationType, Guid id, string channelType, string channel, long elapsedMs, string reason, bool permanent);
}
