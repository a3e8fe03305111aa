using Tocsin.Diagnostics;

namespace Tocsin.Core.Tests.Diagnostics;

/// <summary>How <c>TOCSIN_FAILPOINTS</c> is read (the kill itself is exercised by the integration tests).</summary>
public sealed class FailPointsTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public void Unset_or_blank_arms_nothing(string? value) => Assert.Null(FailPoints.Parse(value));

    [Fact]
    public void Kill_arms_the_first_hit_and_kill_at_n_the_nth()
    {
        Assert.Equal(1, FailPoints.Parse($"{FailPoints.ExportAfterCentralCommit}=kill")!.Points[FailPoints.ExportAfterCentralCommit].KillAtHit);
        Assert.Equal(3, FailPoints.Parse($" {FailPoints.ExportAfterCentralCommit} = kill@3 ;")!.Points[FailPoints.ExportAfterCentralCommit].KillAtHit);
    }

    [Theory]
    [InlineData("export.after-central-commit=pause")]
    [InlineData("export.after-central-commit=kill@0")]
    [InlineData("export.after-central-commit=kill@x")]
    [InlineData("no.such.point=kill")]
    [InlineData("export.after-central-commit")]
    public void Entries_not_understood_are_ignored_and_reported(string value)
    {
        var parsed = FailPoints.Parse(value)!;

        Assert.Empty(parsed.Points);
        Assert.Equal([value], parsed.Ignored);
    }

    [Fact]
    public void Throw_arms_an_exception_at_the_first_hit_and_throw_at_n_at_the_nth()
    {
        var first = FailPoints.Parse($"{FailPoints.SchedulerLoop}=throw")!.Points[FailPoints.SchedulerLoop];
        var third = FailPoints.Parse($"{FailPoints.SchedulerLoop}=throw@3")!.Points[FailPoints.SchedulerLoop];

        Assert.True(first.Throws);
        Assert.Equal(1, first.KillAtHit);
        Assert.True(third.Throws);
        Assert.Equal(3, third.KillAtHit);
        Assert.False(FailPoints.Parse($"{FailPoints.SchedulerLoop}=kill")!.Points[FailPoints.SchedulerLoop].Throws);
        Assert.Empty(FailPoints.Parse($"{FailPoints.SchedulerLoop}=throw@0")!.Points);
    }
}
