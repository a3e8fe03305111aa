using System.Globalization;
using Tocsin.Checks;
using Tocsin.Configuration;

namespace Tocsin.Alerting;

/// <summary>
/// How acknowledgements and silences asked by a person (API, dashboard, CLI) are checked and made into
/// <see cref="AlertCommand"/>s, the same way everywhere. The commands are stored with <see cref="IAlertStore.AddCommandAsync"/>
/// and applied by the leader's <see cref="Notifier"/> on its next pass (about a second).
/// </summary>
public static class AlertCommands
{
    /// <summary>The shortest silence: 1 minute.</summary>
    public static readonly TimeSpan MinSilence = TimeSpan.FromMinutes(1);

    /// <summary>The longest silence: 30 days.</summary>
    public static readonly TimeSpan MaxSilence = TimeSpan.FromDays(30);

    /// <summary>Longest comment, in characters.</summary>
    public const int MaxCommentLength = 1000;

    /// <summary>What a silence's length may be, for error messages.</summary>
    public const string SilenceAllowed = "a duration from 1m to 30d with a unit (m, h, d), e.g. 15m, 1h, 4h, 1d";

    /// <summary>Parses a silence's length (<see cref="Duration"/> syntax, <see cref="MinSilence"/> to <see cref="MaxSilence"/>).</summary>
    /// <param name="text">What was given, e.g. <c>30m</c>.</param>
    /// <param name="duration">The length when valid.</param>
    /// <returns>Null when valid; else why not, naming the value and what is allowed (<see cref="SilenceAllowed"/>).</returns>
    public static string? CheckSilenceLength(string? text, out TimeSpan duration)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            duration = default;
            return $"missing; give {SilenceAllowed}";
        }

        if (!Duration.TryParse(text, out duration))
        {
            return $"\"{text}\" is not a duration; give {SilenceAllowed}";
        }

        if (duration < MinSilence || duration > MaxSilence)
        {
            return $"\"{text}\" is {(duration < MinSilence ? "shorter than 1m" : "longer than 30d")}; give {SilenceAllowed}";
        }

        return null;
    }

    /// <summary>Checks a comment: null, or at most <see cref="MaxCommentLength"/> characters without control characters but
    /// line breaks and tabs.</summary>
    /// <returns>Null when valid; else why not.</returns>
    public static string? CheckComment(string? comment)
    {
        if (comment is null)
        {
            return null;
        }

        if (comment.Length > MaxCommentLength)
        {
            return string.Create(CultureInfo.InvariantCulture, $"is {comment.Length} characters long; at most {MaxCommentLength} are allowed");
        }

        return comment.Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t'))
            ? "holds control characters; only text, line breaks and tabs are allowed"
            : null;
    }

    /// <summary>A comment as stored: trimmed, null when empty.</summary>
    public static string? Normalize(string? comment) => string.IsNullOrWhiteSpace(comment) ? null : comment.Trim();

    /// <summary>
    /// Why <paramref name="checkName"/>'s problem cannot be acknowledged now, or null when it can: it can when the notifier's
    /// record (<paramref name="record"/>, null when it has none) or this agent's state tracking (<paramref name="trackedHard"/>,
    /// null when it has no result: an event it wrote may not be processed yet) says the hard state is not OK, unless the
    /// record says the current problem is acknowledged already.
    /// </summary>
    public static string? AcknowledgeRefusal(string checkName, AlertRecord? record, CheckState? trackedHard)
    {
        if (record is { Hard: not CheckState.OK, AcknowledgedAt: { } at })
        {
            return string.Create(
                CultureInfo.InvariantCulture,
                $"the problem of \"{checkName}\" was acknowledged already{(record.AcknowledgedBy is { } by ? " by " + by : "")} at {at.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC");
        }

        if (record is { Hard: not CheckState.OK } || trackedHard is { } hard && hard != CheckState.OK)
        {
            return null;
        }

        return $"\"{checkName}\" is OK (its hard state): there is no problem to acknowledge. Silence it instead to hold its next notifications";
    }

    /// <summary>An acknowledgement of <paramref name="checkName"/>'s current problem.</summary>
    /// <param name="checkName">The check.</param>
    /// <param name="incidentId">The problem's incident as the notifier's record knows it (the acknowledgement then applies to
    /// that problem only), or null for whatever problem is current.</param>
    /// <param name="author">Who asks (user name, <c>api</c>, <c>cli</c>).</param>
    /// <param name="comment">Why, or null.</param>
    /// <param name="now">The time (UTC).</param>
    public static AlertCommand Acknowledge(string checkName, Guid? incidentId, string? author, string? comment, DateTimeOffset now) =>
        new(0, Guid.CreateVersion7(now), AlertCommandType.Acknowledge, checkName, now, incidentId, null, author, Normalize(comment));

    /// <summary>A silence of <paramref name="checkName"/> for <paramref name="length"/> from <paramref name="now"/>.</summary>
    public static AlertCommand Silence(string checkName, TimeSpan length, string? author, string? comment, DateTimeOffset now) =>
        new(0, Guid.CreateVersion7(now), AlertCommandType.Silence, checkName, now, null, now + length, author, Normalize(comment));
}
