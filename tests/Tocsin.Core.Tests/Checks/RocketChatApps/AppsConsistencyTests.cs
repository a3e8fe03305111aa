using Tocsin.Checks.RocketChatApps;

namespace Tocsin.Core.Tests.Checks.RocketChatApps;

public sealed class AppsConsistencyTests
{
    private static InstanceApps Instance(string address, params (string Id, string Status)[] apps) =>
        new(address, [.. apps.Select(a => new InstalledApp(a.Id, a.Id.ToUpperInvariant(), a.Status))]);

    [Fact]
    public void Enabled_everywhere_auto_or_manually_is_consistent_and_left_alone()
    {
        var f = Assert.Single(AppsConsistency.Evaluate(
            [Instance("a", ("clamav", "auto_enabled")), Instance("b", ("clamav", "manually_enabled")), Instance("c", ("clamav", "auto_enabled"))]));
        Assert.Equal(AppVerdict.Consistent, f.Verdict);
        Assert.Empty(f.ToEnable);
    }

    [Fact]
    public void Disabled_the_same_way_everywhere_is_intended_and_left_alone()
    {
        var f = Assert.Single(AppsConsistency.Evaluate([Instance("a", ("poll", "manually_disabled")), Instance("b", ("poll", "manually_disabled"))]));
        Assert.Equal(AppVerdict.Consistent, f.Verdict);
        Assert.Empty(f.ToEnable);
    }

    [Fact]
    public void Enabled_on_one_and_disabled_on_others_is_drift_fixed_only_where_not_enabled()
    {
        var f = Assert.Single(AppsConsistency.Evaluate(
            [Instance("a", ("clamav", "auto_enabled")), Instance("b", ("clamav", "manually_disabled")), Instance("c", ("clamav", "error_disabled")), Instance("d", ("clamav", "manually_enabled"))]));
        Assert.Equal(AppVerdict.Drifted, f.Verdict);
        Assert.Equal(["b", "c"], f.ToEnable);
        Assert.Equal("CLAMAV", f.Name);
        Assert.Equal([("a", "auto_enabled"), ("b", "manually_disabled"), ("c", "error_disabled"), ("d", "manually_enabled")], f.Statuses);
    }

    [Fact]
    public void Disabled_differently_and_enabled_nowhere_is_reported_not_changed()
    {
        var f = Assert.Single(AppsConsistency.Evaluate([Instance("a", ("x", "manually_disabled")), Instance("b", ("x", "invalid_license_disabled"))]));
        Assert.Equal(AppVerdict.DisabledDifferently, f.Verdict);
        Assert.Empty(f.ToEnable);
    }

    [Fact]
    public void Missing_on_an_instance_is_reported_and_the_installed_ones_are_still_aligned()
    {
        var f = Assert.Single(AppsConsistency.Evaluate(
            [Instance("a", ("x", "manually_enabled")), Instance("b"), Instance("c", ("x", "manually_disabled"))]));
        Assert.Equal(AppVerdict.Missing, f.Verdict);
        Assert.Equal([("a", "manually_enabled"), ("b", (string?)null), ("c", "manually_disabled")], f.Statuses);
        Assert.Equal(["c"], f.ToEnable);
    }

    [Fact]
    public void Unreadable_instances_take_no_part_and_app_ids_filter_the_findings()
    {
        var findings = AppsConsistency.Evaluate(
            [Instance("a", ("x", "manually_enabled"), ("y", "manually_disabled")), new InstanceApps("b", null, "connection refused"), Instance("c", ("x", "manually_enabled"), ("y", "manually_enabled"))],
            ["y"]);
        var f = Assert.Single(findings);
        Assert.Equal("y", f.Id);
        Assert.Equal(AppVerdict.Drifted, f.Verdict);
        Assert.Equal(["a"], f.ToEnable);
        Assert.Equal(2, f.Statuses.Count);
    }

    [Theory]
    [InlineData("auto_enabled", true)]
    [InlineData("manually_enabled", true)]
    [InlineData("enabled", false)]
    [InlineData("manually_disabled", false)]
    [InlineData(null, false)]
    public void Enabled_means_auto_or_manually_enabled(string? status, bool enabled) => Assert.Equal(enabled, AppStatuses.IsEnabled(status));
}
