using Tocsin.Checks;
using Tocsin.Checks.Command;
using Tocsin.Configuration;

namespace Tocsin.Core.Tests.Checks.Command;

/// <summary>Reading and validating <c>command</c> checks with the built-in kinds, as <c>tocsin config</c> does.</summary>
public sealed class CommandConfigTests
{
    private static readonly ConfigLoader Loader = new(CheckKinds.CreateDefault(TimeProvider.System));

    private const string ConfigPath = "/etc/tocsin/config.json";

    private static TocsinConfig Parse(string checks, string defaults = "") =>
        Loader.Parse($$"""{ {{defaults}} "checks": [ {{checks}} ] }""", ConfigPath);

    private static ConfigError OnlyError(string check)
    {
        var ex = Assert.Throws<ConfigException>(() => Parse(check));
        var error = Assert.Single(ex.Errors);
        Assert.Contains(error.Field, ex.Message, StringComparison.Ordinal);
        return error;
    }

    [Fact]
    public void Command_check_is_read_with_every_field()
    {
        var check = Assert.Single(Parse("""
            { "name": "disk", "kind": "command", "command": ["/usr/lib/nagios/plugins/check_disk", "-w", "10%"],
              "workingDirectory": "/var/lib", "env": { "LC_ALL": "C", "lc_all": "other" }, "interval": "5m", "timeout": "45s" }
            """).Checks);

        var o = Assert.IsType<CommandCheckOptions>(check.Options);
        Assert.Equal("command", check.Kind);
        Assert.Equal(["/usr/lib/nagios/plugins/check_disk", "-w", "10%"], o.Command);
        Assert.False(o.Shell);
        Assert.Equal("/var/lib", o.WorkingDirectory);
        Assert.Equal("C", o.Env["LC_ALL"]);
        Assert.Equal("other", o.Env["lc_all"]); // names are case-sensitive, as on Linux
        Assert.Equal(TimeSpan.FromSeconds(45), check.Timeout);
        Assert.Equal("/usr/lib/nagios/plugins/check_disk -w 10%", CheckKinds.CreateDefault(TimeProvider.System).Get("command").Describe(o));
    }

    [Fact]
    public void Default_timeout_is_60_s_cut_to_80_percent_of_the_interval_and_defaults_timeout_wins()
    {
        var checks = Parse("""
            { "name": "a", "kind": "command", "command": ["/bin/true"], "interval": "5m" },
            { "name": "b", "kind": "command", "command": ["/bin/true"] },
            { "name": "c", "kind": "tcp", "host": "127.0.0.1", "port": 1, "interval": "5m" }
            """).Checks;
        var withDefaults = Parse("""{ "name": "a", "kind": "command", "command": ["/bin/true"], "interval": "5m" }""", """ "defaults": { "timeout": "7s" }, """).Checks;

        Assert.Equal(TimeSpan.FromSeconds(60), checks[0].Timeout);
        Assert.Equal(TimeSpan.FromSeconds(24), checks[1].Timeout); // 80 % of the default 30 s interval
        Assert.Equal(TimeSpan.FromSeconds(10), checks[2].Timeout); // other kinds keep 10 s
        Assert.Equal(TimeSpan.FromSeconds(7), withDefaults[0].Timeout);
    }

    [Fact]
    public void Relative_paths_are_resolved_against_the_config_folder_and_bare_names_kept_for_path_lookup()
    {
        var checks = Parse("""
            { "name": "a", "kind": "command", "command": ["promises/disk.sh"], "workingDirectory": "work" },
            { "name": "b", "kind": "command", "command": ["df", "-h"] }
            """).Checks;

        var a = (CommandCheckOptions)checks[0].Options;
        Assert.Equal("/etc/tocsin/promises/disk.sh", a.Command[0]);
        Assert.Equal("/etc/tocsin/work", a.WorkingDirectory);
        Assert.Equal("df", ((CommandCheckOptions)checks[1].Options).Command[0]);
    }

    [Fact]
    public void Shell_true_takes_one_string()
    {
        var check = Assert.Single(Parse("""{ "name": "s", "kind": "command", "shell": true, "command": "df -P / | tail -1" }""").Checks);

        var o = (CommandCheckOptions)check.Options;
        Assert.Equal(["/bin/sh", "-c", "df -P / | tail -1"], o.ToArgv());
    }

    [Fact]
    public void Missing_command_is_refused()
    {
        var e = OnlyError("""{ "name": "x", "kind": "command" }""");

        Assert.Equal("command", e.Field);
        Assert.Null(e.Value);
        Assert.StartsWith("is required: an array of strings", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_string_command_without_shell_is_refused_pointing_at_shell_true()
    {
        var e = OnlyError("""{ "name": "x", "kind": "command", "command": "df -h" }""");

        Assert.Equal("command", e.Field);
        Assert.Equal("\"df -h\"", e.Value);
        Assert.Contains("set \"shell\": true", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void An_array_command_with_shell_is_refused()
    {
        var e = OnlyError("""{ "name": "x", "kind": "command", "shell": true, "command": ["df", "-h"] }""");

        Assert.Equal("must be one string when \"shell\" is true (the command line given to /bin/sh -c)", e.Problem);
    }

    [Theory]
    [InlineData("""[]""", "must name a program first")]
    [InlineData("""[""]""", "must name a program first")]
    [InlineData("""["/bin/echo", 1]""", "must be an array of strings")]
    [InlineData("""["-x"]""", "must not start with '-'")]
    public void Bad_command_arrays_are_refused(string command, string problem)
    {
        var e = OnlyError($$"""{ "name": "x", "kind": "command", "command": {{command}} }""");

        Assert.Equal("command", e.Field);
        Assert.Contains(problem, e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Env_must_be_an_object_of_strings_and_values_are_not_echoed()
    {
        var notObject = OnlyError("""{ "name": "x", "kind": "command", "command": ["/bin/true"], "env": ["A=1"] }""");
        var notString = OnlyError("""{ "name": "x", "kind": "command", "command": ["/bin/true"], "env": { "TOKEN": 12345 } }""");
        var badName = OnlyError("""{ "name": "x", "kind": "command", "command": ["/bin/true"], "env": { "A=B": "1" } }""");

        Assert.Equal("env", notObject.Field);
        Assert.Null(notObject.Value);
        Assert.Equal("env.TOKEN", notString.Field);
        Assert.Null(notString.Value);
        Assert.Equal("must be a string", notString.Problem);
        Assert.Equal("env", badName.Field);
        Assert.Contains("without '='", badName.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_fields_are_refused_listing_the_allowed_ones()
    {
        var e = OnlyError("""{ "name": "x", "kind": "command", "command": ["/bin/true"], "cwd": "/tmp" }""");

        Assert.Equal("cwd", e.Field);
        Assert.Contains("workingDirectory", e.Problem, StringComparison.Ordinal);
        Assert.Contains("env", e.Problem, StringComparison.Ordinal);
        Assert.Contains("shell", e.Problem, StringComparison.Ordinal);
    }
}
