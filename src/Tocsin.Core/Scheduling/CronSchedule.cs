using Cronos;

namespace Tocsin.Scheduling;

/// <summary>
/// A check's schedule given as a 5-field cron expression (minute hour day-of-month month day-of-week, as in crontab and
/// seed 003's <c>frequency</c>), evaluated with Cronos in a time zone: due times are the expression's occurrences in that
/// zone's wall clock. Across a daylight-saving change Cronos does what cron does: a time skipped by the spring change
/// fires once at the change; a time repeated by the autumn change fires once (interval-like expressions such as
/// <c>*/5 * * * *</c> keep firing through both offsets).
/// </summary>
public sealed class CronSchedule : IEquatable<CronSchedule>
{
    private readonly CronExpression _expression;

    private CronSchedule(string text, CronExpression expression, TimeZoneInfo zone)
    {
        Text = text;
        _expression = expression;
        TimeZone = zone;
    }

    /// <summary>The expression as written (trimmed).</summary>
    public string Text { get; }

    /// <summary>The time zone whose wall clock the expression follows.</summary>
    public TimeZoneInfo TimeZone { get; }

    /// <summary>Parses a 5-field cron expression (Cronos' standard format; macros such as <c>@hourly</c> are accepted too).</summary>
    /// <exception cref="FormatException">When <paramref name="text"/> is not a valid expression; the message says why.</exception>
    public static CronSchedule Parse(string text, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(zone);
        string trimmed = text.Trim();
        try
        {
            return new CronSchedule(trimmed, CronExpression.Parse(trimmed, CronFormat.Standard), zone);
        }
        catch (CronFormatException ex)
        {
            throw new FormatException(ex.Message, ex);
        }
    }

    /// <summary>The first occurrence strictly after <paramref name="after"/> (UTC), or null when the expression never fires again (e.g. <c>0 0 30 2 *</c>).</summary>
    public DateTimeOffset? Next(DateTimeOffset after) =>
        _expression.GetNextOccurrence(after.ToUniversalTime(), TimeZone, inclusive: false)?.ToUniversalTime();

    /// <summary>The first occurrence at or after <paramref name="from"/> (UTC), or null when none.</summary>
    public DateTimeOffset? NextOrSame(DateTimeOffset from) =>
        _expression.GetNextOccurrence(from.ToUniversalTime(), TimeZone, inclusive: true)?.ToUniversalTime();

    /// <summary>The last occurrence strictly before <paramref name="before"/> (UTC), or null when the expression never fired before it.</summary>
    public DateTimeOffset? Previous(DateTimeOffset before) =>
        _expression.GetPreviousOccurrence(before.ToUniversalTime(), TimeZone, inclusive: false)?.ToUniversalTime();

    /// <summary>
    /// The gap between the first two occurrences after <paramref name="from"/>: a nominal interval used where a check needs
    /// one (the cap of an implicit timeout, when a run waiting for a slot is too late). Null when it fires less than twice.
    /// </summary>
    public TimeSpan? NominalInterval(DateTimeOffset from) =>
        Next(from) is { } first && Next(first) is { } second ? second - first : null;

    /// <summary>Text and time zone, e.g. <c>*/5 * * * * (Europe/Paris)</c>.</summary>
    public override string ToString() => $"{Text} ({TimeZone.Id})";

    /// <inheritdoc />
    public bool Equals(CronSchedule? other) =>
        other is not null && Text == other.Text && TimeZone.Id == other.TimeZone.Id;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as CronSchedule);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Text, TimeZone.Id);
}
