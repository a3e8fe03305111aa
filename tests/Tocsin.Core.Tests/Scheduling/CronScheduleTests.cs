using Tocsin.Scheduling;

namespace Tocsin.Core.Tests.Scheduling;

public sealed class CronScheduleTests
{
    private static readonly TimeZoneInfo Paris = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");

    private static DateTimeOffset Utc(string iso) => DateTimeOffset.Parse(iso, System.Globalization.CultureInfo.InvariantCulture);

    private static List<DateTimeOffset> Occurrences(CronSchedule schedule, DateTimeOffset after, int count)
    {
        var list = new List<DateTimeOffset>();
        var t = after;
        while (list.Count < count && schedule.Next(t) is { } next)
        {
            list.Add(next);
            t = next;
        }

        return list;
    }

    [Fact]
    public void Five_field_expression_in_utc()
    {
        var s = CronSchedule.Parse(" */5 * * * * ", TimeZoneInfo.Utc);

        Assert.Equal("*/5 * * * *", s.Text);
        Assert.Equal(Utc("2026-01-01T00:05:00Z"), s.Next(Utc("2026-01-01T00:00:00Z")));
        Assert.Equal(Utc("2026-01-01T00:00:00Z"), s.NextOrSame(Utc("2026-01-01T00:00:00Z")));
        Assert.Equal(TimeSpan.FromMinutes(5), s.NominalInterval(Utc("2026-01-01T00:00:00Z")));
    }

    [Fact]
    public void Previous_is_the_last_occurrence_strictly_before()
    {
        var s = CronSchedule.Parse("1 0 * * *", TimeZoneInfo.Utc);

        Assert.Equal(Utc("2026-12-03T00:01:00Z"), s.Previous(Utc("2026-12-03T11:00:00Z")));
        Assert.Equal(Utc("2026-12-02T00:01:00Z"), s.Previous(Utc("2026-12-03T00:01:00Z")));
        Assert.Equal(Utc("2026-12-02T23:01:00Z"), CronSchedule.Parse("1 0 * * *", Paris).Previous(Utc("2026-12-03T11:00:00Z")));
    }

    [Fact]
    public void Daily_time_follows_the_zones_wall_clock_across_both_dst_changes()
    {
        var s = CronSchedule.Parse("30 2 * * *", Paris);

        // 2026-03-29 02:00 CET jumps to 03:00 CEST: 02:30 does not exist and fires once at the change (01:00Z).
        Assert.Equal(
            [Utc("2026-03-28T01:30:00Z"), Utc("2026-03-29T01:00:00Z"), Utc("2026-03-30T00:30:00Z")],
            Occurrences(s, Utc("2026-03-27T12:00:00Z"), 3));

        // 2026-10-25 03:00 CEST falls back to 02:00 CET: 02:30 happens twice and fires once (the first, CEST).
        Assert.Equal(
            [Utc("2026-10-24T00:30:00Z"), Utc("2026-10-25T00:30:00Z"), Utc("2026-10-26T01:30:00Z")],
            Occurrences(s, Utc("2026-10-23T12:00:00Z"), 3));
    }

    [Fact]
    public void Interval_expression_keeps_firing_through_the_repeated_hour_and_skips_the_missing_one()
    {
        var s = CronSchedule.Parse("*/30 * * * *", Paris);

        Assert.Equal(
            [Utc("2026-10-25T00:00:00Z"), Utc("2026-10-25T00:30:00Z"), Utc("2026-10-25T01:00:00Z"), Utc("2026-10-25T01:30:00Z"), Utc("2026-10-25T02:00:00Z")],
            Occurrences(s, Utc("2026-10-24T23:59:00Z"), 5));
        Assert.Equal(
            [Utc("2026-03-29T00:00:00Z"), Utc("2026-03-29T00:30:00Z"), Utc("2026-03-29T01:00:00Z"), Utc("2026-03-29T01:30:00Z")],
            Occurrences(s, Utc("2026-03-28T23:59:00Z"), 4));
    }

    [Theory]
    [InlineData("* * * *")]
    [InlineData("61 * * * *")]
    [InlineData("every minute")]
    [InlineData("* * * * * *")]
    public void Invalid_expressions_are_refused(string text) =>
        Assert.Throws<FormatException>(() => CronSchedule.Parse(text, TimeZoneInfo.Utc));

    [Fact]
    public void An_expression_that_never_fires_has_no_next_occurrence()
    {
        var s = CronSchedule.Parse("0 0 30 2 *", TimeZoneInfo.Utc);

        Assert.Null(s.Next(Utc("2026-01-01T00:00:00Z")));
        Assert.Null(s.NominalInterval(Utc("2026-01-01T00:00:00Z")));
    }
}
