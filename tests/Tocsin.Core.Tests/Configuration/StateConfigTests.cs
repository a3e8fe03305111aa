using Tocsin.Checks;
using Tocsin.Configuration;
using Tocsin.State;

namespace Tocsin.Core.Tests.Configuration;

/// <summary>The state tracking fields of a check: failureThreshold, successThreshold and public.</summary>
public sealed class StateConfigTests
{
    private static readonly ConfigLoader Loader = new(CheckKinds.CreateDefault(TimeProvider.System));

    private static readonly string ConfigPath = Path.Combine(Path.GetTempPath(), "tocsin-config-tests", "config.json");

    private static TocsinConfig Parse(string json) => Loader.Parse(json, ConfigPath);

    [Fact]
    public void Thresholds_default_to_1_and_public_to_false()
    {
        var check = Assert.Single(Parse("""{ "checks": [ { "name": "a", "kind": "tcp", "host": "127.0.0.1", "port": 1 } ] }""").Checks);

        Assert.Equal(new StateThresholds(1, 1), check.Thresholds);
        Assert.False(check.Public);
    }

    [Fact]
    public void Defaults_set_thresholds_that_a_check_overrides_field_by_field()
    {
        var config = Parse("""
            { "defaults": { "failureThreshold": 3, "successThreshold": 2 },
              "checks": [
                { "name": "a", "kind": "tcp", "host": "127.0.0.1", "port": 1 },
                { "name": "b", "kind": "tcp", "host": "127.0.0.1", "port": 1, "failureThreshold": 5, "public": true } ] }
            """);

        Assert.Equal(new StateThresholds(3, 2), config.Checks[0].Thresholds);
        Assert.Equal(new StateThresholds(5, 2), config.Checks[1].Thresholds);
        Assert.True(config.Checks[1].Public);
        var lookup = StateThresholds.Lookup(config.Checks);
        Assert.Equal(new StateThresholds(5, 2), lookup("b"));
        Assert.Equal(StateThresholds.Default, lookup("not configured"));
    }

    [Theory]
    [InlineData("failureThreshold", "0", "must be from 1 to 100")]
    [InlineData("successThreshold", "101", "must be from 1 to 100")]
    [InlineData("failureThreshold", "2.5", "must be an integer from 1 to 100")]
    [InlineData("successThreshold", "\"3\"", "must be an integer from 1 to 100")]
    public void A_threshold_outside_1_to_100_is_refused_naming_the_check_field_and_value(string field, string value, string allowed)
    {
        var ex = Assert.Throws<ConfigException>(() => Parse($$"""{ "checks": [ { "name": "a", "kind": "tcp", "host": "127.0.0.1", "port": 1, "{{field}}": {{value}} } ] }"""));

        var error = Assert.Single(ex.Errors);
        Assert.Equal((ConfigPath, "checks[0] \"a\"", field, value), (error.File, error.Location, error.Field, error.Value));
        Assert.Contains(allowed, error.Problem, StringComparison.Ordinal);
        Assert.Contains(field, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_threshold_in_defaults_is_refused_naming_defaults()
    {
        var ex = Assert.Throws<ConfigException>(() => Parse("""{ "defaults": { "failureThreshold": 1000 }, "checks": [] }"""));

        var error = Assert.Single(ex.Errors);
        Assert.Equal(("defaults.failureThreshold", "1000"), (error.Field, error.Value));
        Assert.Contains("must be from 1 to 100", error.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Public_must_be_a_boolean()
    {
        var ex = Assert.Throws<ConfigException>(() => Parse("""{ "checks": [ { "name": "a", "kind": "tcp", "host": "127.0.0.1", "port": 1, "public": "yes" } ] }"""));

        var error = Assert.Single(ex.Errors);
        Assert.Equal(("public", "\"yes\""), (error.Field, error.Value));
        Assert.Contains("true or false", error.Problem, StringComparison.Ordinal);
    }
}
