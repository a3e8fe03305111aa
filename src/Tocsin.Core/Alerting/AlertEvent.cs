using Tocsin.Checks;

namespace Tocsin.Alerting;

/// <summary>What an <see cref="AlertEvent"/> reports.</summary>
public enum AlertEventType
{
    /// <summary><c>state</c>: the check's hard state changed (<see cref="AlertEvent.From"/> → <see cref="AlertEvent.To"/>).</summary>
    State,
    /// <summary><c>flapping-start</c>: the check started flapping.</summary>
    FlappingStart,
    /// <summary><c>flapping-stop</c>: the check stopped flapping.</summary>
    FlappingStop,
}

/// <summary>
/// A fact state tracking hands to alerting: written to the outbox's <c>alert_events</c> in the same transaction as the
/// result that made it (so no event is lost or made twice), exported to the central database like results, and turned
/// into notifications by the leader's <see cref="Notifier"/>.
/// </summary>
/// <param name="Id">UUIDv7: the hard state change's id for <see cref="AlertEventType.State"/>, else made from <paramref name="At"/>.</param>
/// <param name="CheckName">The check.</param>
/// <param name="Kind">The check's kind.</param>
/// <param name="Type">What happened.</param>
/// <param name="From">Hard state before (for flapping events: the hard state at the time).</param>
/// <param name="To">Hard state after (for flapping events: the hard state at the time).</param>
/// <param name="At">Start of the result that made it (UTC).</param>
/// <param name="Since">When the current run of failures began (UTC), null when the check is OK.</param>
/// <param name="Message">That result's message.</param>
/// <param name="IncidentId">The incident opened, continued or closed, or null.</param>
public sealed record AlertEvent(
    Guid Id, string CheckName, string Kind, AlertEventType Type, CheckState From, CheckState To, DateTimeOffset At, DateTimeOffset? Since,
    string Message, Guid? IncidentId)
{
    /// <summary>The wire name of <see cref="Type"/>: <c>state</c>, <c>flapping-start</c>, <c>flapping-stop</c>.</summary>
    public string TypeName => TypeNameOf(Type);

    /// <summary>The wire name of <paramref name="type"/>.</summary>
    public static string TypeNameOf(AlertEventType type) => type switch
    {
        AlertEventType.State => "state",
        AlertEventType.FlappingStart => "flapping-start",
        AlertEventType.FlappingStop => "flapping-stop",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown alert event type"),
    };

    /// <summary>Parses a wire name.</summary>
    /// <exception cref="FormatException">When <paramref name="name"/> is not one.</exception>
    public static AlertEventType ParseType(string name) => name switch
    {
        "state" => AlertEventType.State,
        "flapping-start" => AlertEventType.FlappingStart,
        "flapping-stop" => AlertEventType.FlappingStop,
        _ => throw new FormatException($"unknown alert event type \"{name}\""),
    };
}
