using Tocsin.Alerting;
using Tocsin.Checks;

namespace Tocsin.Core.Tests.Alerting;

public sealed class AlertCommandsTests
{
    [Theory]
    [InlineData("1m", 60)]
    [InlineData("30m", 1800)]
    [InlineData("1h30m", 5400)]
    [InlineData("30d", 2_592_000)]
    public void Silence_lengths_from_1m_to_30d_are_accepted(string text, int seconds)
    {
        Assert.Null(AlertCommands.CheckSilenceLength(text, out var length));
        Assert.Equal(TimeSpan.FromSeconds(seconds), length);
    }

    [Theory]
    [InlineData(null, "missing")]
    [InlineData("", "missing")]
    [InlineData("30", "not a duration")]
    [InlineData("2x", "not a duration")]
    [InlineData("59s", "shorter than 1m")]
    [InlineData("31d", "longer than 30d")]
    public void Bad_silence_lengths_say_what_was_wrong_and_what_is_allowed(string? text, string says)
    {
        string? error = AlertCommands.CheckSilenceLength(text, out _);
        Assert.NotNull(error);
        Assert.Contains(says, error, StringComparison.Ordinal);
        Assert.Contains("from 1m to 30d", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_comment_may_have_line_breaks_but_not_other_control_characters_nor_more_than_1000_characters()
    {
        Assert.Null(AlertCommands.CheckComment(null));
        Assert.Null(AlertCommands.CheckComment("on it\nback in 10"));
        Assert.Contains("control", AlertCommands.CheckComment("bell\a"), StringComparison.Ordinal);
        Assert.Contains("1000", AlertCommands.CheckComment(new string('x', 1001)), StringComparison.Ordinal);
        Assert.Null(AlertCommands.Silence("c", TimeSpan.FromMinutes(5), "cli", "   ", DateTimeOffset.UnixEpoch).Comment);
    }

    [Fact]
    public void Acknowledging_needs_a_non_OK_hard_state_from_the_record_or_the_tracking_and_no_acknowledgement_yet()
    {
        var ok = new AlertRecord { CheckName = "c" };
        var failing = new AlertRecord { CheckName = "c", Hard = CheckState.CRITICAL };
        var acknowledged = new AlertRecord { CheckName = "c", Hard = CheckState.WARNING, AcknowledgedAt = DateTimeOffset.UnixEpoch, AcknowledgedBy = "alice" };

        Assert.Null(AlertCommands.AcknowledgeRefusal("c", failing, null));
        Assert.Null(AlertCommands.AcknowledgeRefusal("c", null, CheckState.CRITICAL)); // event not processed yet
        Assert.Null(AlertCommands.AcknowledgeRefusal("c", ok, CheckState.UNKNOWN));
        Assert.Contains("is OK", AlertCommands.AcknowledgeRefusal("c", ok, CheckState.OK), StringComparison.Ordinal);
        Assert.Contains("is OK", AlertCommands.AcknowledgeRefusal("c", null, null), StringComparison.Ordinal);
        Assert.Contains("acknowledged already by alice", AlertCommands.AcknowledgeRefusal("c", acknowledged, CheckState.WARNING), StringComparison.Ordinal);
    }
}
