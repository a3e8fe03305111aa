using Tocsin.Alerting;
using Tocsin.Checks;

namespace Tocsin.Core.Tests.Alerting;

public sealed class AlertEngineTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    private static AlertEvent State(CheckState from, CheckState to, DateTimeOffset at) =>
        new(Guid.CreateVersion7(at), "a", "tcp", AlertEventType.State, from, to, at, to == CheckState.OK ? null : at, to.ToString(), null);

    [Fact]
    public void A_state_event_not_newer_than_the_applied_change_is_ignored()
    {
        var record = new AlertRecord { CheckName = "a" };
        var recovery = State(CheckState.CRITICAL, CheckState.OK, T0.AddSeconds(10));
        Assert.True(AlertEngine.Apply(record, State(CheckState.OK, CheckState.CRITICAL, T0)));
        Assert.True(AlertEngine.Apply(record, recovery));

        // Older (another agent's problem exported late), and the same change at the same time (a duplicate): ignored.
        Assert.False(AlertEngine.Apply(record, State(CheckState.OK, CheckState.CRITICAL, T0.AddSeconds(5))));
        Assert.False(AlertEngine.Apply(record, State(CheckState.CRITICAL, CheckState.OK, T0.AddSeconds(10))));
        Assert.Equal((CheckState.OK, recovery.Id, recovery.At), (record.Hard, record.HardEventId, record.HardAt));

        // A different state at the same time, and anything later, is applied.
        Assert.True(AlertEngine.Apply(record, State(CheckState.OK, CheckState.WARNING, T0.AddSeconds(10))));
        Assert.True(AlertEngine.Apply(record, State(CheckState.WARNING, CheckState.OK, T0.AddSeconds(11))));
        Assert.Equal(CheckState.OK, record.Hard);

        // Flapping events carry no state change: never stale.
        Assert.True(AlertEngine.Apply(record, new AlertEvent(Guid.CreateVersion7(T0), "a", "tcp", AlertEventType.FlappingStart, CheckState.OK, CheckState.OK, T0, null, "", null)));
        Assert.True(record.Flapping);
    }
}
