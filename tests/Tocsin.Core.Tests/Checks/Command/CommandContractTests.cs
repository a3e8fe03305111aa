using Tocsin.Checks;
using Tocsin.Checks.Command;

namespace Tocsin.Core.Tests.Checks.Command;

/// <summary>The result contract without processes; the same rules run with real processes in <see cref="CommandCheckTests"/>.</summary>
public sealed class CommandContractTests
{
    [Theory]
    [InlineData("OK", 0, CheckState.OK)]
    [InlineData("ok", 0, CheckState.OK)]
    [InlineData("ERROR", 0, CheckState.CRITICAL)]
    [InlineData("WARNING", 0, CheckState.WARNING)]
    [InlineData("CRITICAL", 0, CheckState.CRITICAL)]
    [InlineData("UNKNOWN", 0, CheckState.UNKNOWN)]
    [InlineData("OK", 1, CheckState.CRITICAL)]
    [InlineData("WARNING", 1, CheckState.WARNING)]
    public void Status_json_status_words(string status, int exitCode, CheckState expected) =>
        Assert.Equal(expected, CommandContract.Evaluate(exitCode, $$"""{"status":"{{status}}","message":"m"}""", "").State);

    [Fact]
    public void Status_json_with_an_unknown_status_is_unknown_and_says_why()
    {
        var o = CommandContract.Evaluate(0, """{"status":"GREEN","message":"m"}""", "");

        Assert.Equal(CheckState.UNKNOWN, o.State);
        Assert.Equal("m (status \"GREEN\" is not one of OK, ERROR, WARNING, CRITICAL, UNKNOWN)", o.Message);
    }

    [Fact]
    public void Status_json_multi_line_message_keeps_the_first_line_as_message_and_all_as_long_output()
    {
        var o = CommandContract.Evaluate(0, """{"status":"OK","message":"first\nsecond"}""", "");

        Assert.Equal("first", o.Message);
        Assert.Equal("first\nsecond", o.Details!["longOutput"]!.GetValue<string>());
    }

    [Fact]
    public void A_json_array_or_a_json_string_is_not_a_status()
    {
        Assert.Equal("plain", CommandContract.Evaluate(0, "[1,2]", "").Details!["format"]!.GetValue<string>());
        Assert.Equal("plain", CommandContract.Evaluate(0, "\"OK\"", "").Details!["format"]!.GetValue<string>());
    }

    [Fact]
    public void Status_json_with_duplicate_keys_falls_through_to_plain()
    {
        var o = CommandContract.Evaluate(0, """{"status":"OK","status":"ERROR"}""", "");

        Assert.Equal(CheckState.OK, o.State);
    }

    [Theory]
    [InlineData(137, 9, "SIGKILL")]
    [InlineData(143, 15, "SIGTERM")]
    [InlineData(139, 11, "SIGSEGV")]
    public void Exit_codes_above_128_mean_killed_by_a_signal(int exitCode, int signal, string name)
    {
        var o = CommandContract.Evaluate(exitCode, "OK - fine", "");

        Assert.Equal(CheckState.UNKNOWN, o.State);
        Assert.Equal($"killed by signal {signal} ({name})", o.Message);
    }

    [Fact]
    public void Messages_are_one_line_without_control_characters_and_capped()
    {
        var o = CommandContract.Evaluate(0, "a\tb\u001b[31mc\n", "");
        var longOne = CommandContract.Evaluate(0, new string('x', 5000), "");

        Assert.Equal("a b [31mc", o.Message);
        Assert.Equal(CommandContract.MaxMessageChars + 1, longOne.Message.Length);
        Assert.EndsWith("…", longOne.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Nagios_perfdata_that_does_not_parse_is_listed()
    {
        var o = CommandContract.Evaluate(0, "OK - fine | a=1 junk", "");

        Assert.Single(o.Details!["perfdata"]!.AsArray());
        Assert.Equal("junk", o.Details["perfdataInvalid"]![0]!.GetValue<string>());
    }
}
