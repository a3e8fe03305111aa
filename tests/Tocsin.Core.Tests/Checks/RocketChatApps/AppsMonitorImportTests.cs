using Microsoft.Extensions.Logging;
using Tocsin.Checks;
using Tocsin.Checks.RocketChatApps;
using Tocsin.Configuration;

namespace Tocsin.Core.Tests.Checks.RocketChatApps;

/// <summary>Seed 000's settings (file over environment, interval in ms with its 30000 ms floor) and the check made from them.</summary>
public sealed class AppsMonitorImportTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string File(string json)
    {
        string path = _folder.File(AppsMonitorImport.FileName);
        System.IO.File.WriteAllText(path, json);
        return path;
    }

    private static Func<string, string?> Env(params (string Key, string Value)[] vars) =>
        name => vars.FirstOrDefault(v => v.Key == name).Value;

    [Fact]
    public void Each_key_comes_from_the_file_when_it_has_it_else_from_the_variable()
    {
        string file = File("""{ "serverURL": "https://chat.example.org", "userPAT": "file-pat", "appId": "clamav" }""");
        var warnings = new List<string>();
        var s = AppsMonitorImport.Read(file, Env(("SERVER_URL", "https://other"), ("USER_ID", "u-env"), ("USER_PAT", "env-pat"), ("ALERT_ROOM", "R1"), ("INTERVAL_MS", "600000")), warnings);
        Assert.Empty(warnings);
        Assert.Equal("https://chat.example.org", s.ServerUrl);
        Assert.Equal("u-env", s.UserId);
        Assert.Equal("file-pat", s.Pat);
        Assert.False(s.PatFromEnvironment);
        Assert.Equal("R1", s.AlertRoom);
        Assert.Equal("clamav", s.AppId);
        Assert.Equal(TimeSpan.FromMinutes(10), s.Interval);
        Assert.Equal([file, "environment"], s.Sources);
        Assert.DoesNotContain("file-pat", s.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10000", "is under 30000 ms: ignored")]
    [InlineData("29999", "is under 30000 ms: ignored")]
    [InlineData("five", "is not a number of milliseconds")]
    public void An_interval_the_original_ignores_is_ignored_with_a_warning(string ms, string warning)
    {
        var warnings = new List<string>();
        var s = AppsMonitorImport.Read(_folder.File("none.json"), Env(("INTERVAL_MS", ms)), warnings);
        Assert.Null(s.Interval);
        Assert.Contains(warnings, w => w.Contains(warning, StringComparison.Ordinal));
        Assert.False(AppsMonitorImport.ToCheck(s, inlinePat: false).ContainsKey("interval")); // the kind's default: 5 min
    }

    [Theory]
    [InlineData("trace", LogLevel.Trace)]
    [InlineData("DEBUG", LogLevel.Debug)]
    [InlineData("info", LogLevel.Information)]
    [InlineData("warn", LogLevel.Warning)]
    [InlineData("error", LogLevel.Error)]
    public void LOG_LEVEL_maps_to_a_log_level(string value, LogLevel expected) =>
        Assert.Equal(expected, AppsMonitorImport.Read(_folder.File("none.json"), Env(("LOG_LEVEL", value)), []).LogLevel);

    [Fact]
    public void Unknown_keys_and_levels_are_warned_about_and_wrong_types_refused()
    {
        var warnings = new List<string>();
        AppsMonitorImport.Read(File("""{ "serverUrl": "https://x" }"""), Env(("LOG_LEVEL", "loud")), warnings);
        Assert.Contains(warnings, w => w.Contains("key \"serverUrl\" is not one the apps monitor reads", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("LOG_LEVEL \"loud\"", StringComparison.Ordinal));

        var ex = Assert.Throws<ConfigException>(() => AppsMonitorImport.Read(File("""{ "interval": "soon", "userId": 5 }"""), Env(), []));
        Assert.Contains("must be a", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ConfigException>(() => AppsMonitorImport.Read(File("[1]"), Env(), []));
        Assert.Throws<ConfigException>(() => AppsMonitorImport.Read(File("{ nope"), Env(), []));
    }

    [Fact]
    public void The_check_made_loads_and_takes_the_pat_from_the_same_variable_when_it_came_from_one()
    {
        var s = AppsMonitorImport.Read(_folder.File("none.json"), Env(("SERVER_URL", "https://chat.example.org"), ("USER_ID", "u1"), ("USER_PAT", "env-pat"), ("ALERT_ROOM", "R1")), []);
        Assert.Empty(AppsMonitorImport.Missing(s));
        var check = AppsMonitorImport.ToCheck(s, inlinePat: false);
        Assert.Equal("USER_PAT", check["patEnv"]!.GetValue<string>());
        Assert.False(check.ContainsKey("pat"));

        string json = AppsMonitorImport.ToConfigJson(s, _folder.File("local.db"));
        var config = new ConfigLoader(CheckKinds.CreateDefault(TimeProvider.System)).Parse(json, _folder.File("apps.json"));
        var o = Assert.IsType<RocketChatAppsOptions>(Assert.Single(config.Checks).Options);
        Assert.Equal("env-pat", o.Pat);
        Assert.Equal("R1", o.AlertRoom);
        Assert.Equal(TimeSpan.FromMinutes(5), config.Checks[0].Interval);
        Assert.Equal(["serverURL (SERVER_URL)", "userId (USER_ID)", "userPAT (USER_PAT)"], AppsMonitorImport.Missing(AppsMonitorImport.Read(_folder.File("none.json"), Env(), [])));
    }
}
