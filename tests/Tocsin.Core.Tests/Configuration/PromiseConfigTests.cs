using Tocsin.Checks;
using Tocsin.Configuration;

namespace Tocsin.Core.Tests.Configuration;

/// <summary><c>promiseDirectories</c> and <c>timeZone</c> in the configuration file.</summary>
public sealed class PromiseConfigTests : IDisposable
{
    private static readonly ConfigLoader Loader = new(CheckKinds.CreateDefault(TimeProvider.System));
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private TocsinConfig Parse(string json) => Loader.Parse(json, _folder.File("config.json"));

    [Fact]
    public void Promise_directories_are_resolved_against_the_config_folder_and_the_time_zone_is_read()
    {
        Directory.CreateDirectory(_folder.File("etc/monitor-promise"));
        string absolute = _folder.File("other");
        Directory.CreateDirectory(absolute);

        var config = Parse($$"""{ "promiseDirectories": ["etc/monitor-promise", "{{absolute}}"], "timeZone": "Europe/Paris" }""");

        Assert.Equal([_folder.File("etc/monitor-promise"), absolute], config.PromiseDirectories);
        Assert.Equal("Europe/Paris", config.TimeZone.Id);
    }

    [Fact]
    public void Defaults_are_no_promise_directory_and_utc()
    {
        var config = Parse("{}");

        Assert.Empty(config.PromiseDirectories);
        Assert.Same(TimeZoneInfo.Utc, config.TimeZone);
    }

    [Fact]
    public void A_missing_promise_directory_and_an_unknown_time_zone_are_refused_naming_the_field()
    {
        var ex = Assert.Throws<ConfigException>(() => Parse("""{ "promiseDirectories": ["nowhere"], "timeZone": "Mars/Olympus_Mons" }"""));

        Assert.Contains(ex.Errors, e => e.Field == "promiseDirectories" && e.Value == "\"nowhere\"" && e.Problem.Contains("existing folder", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Field == "timeZone" && e.Value == "\"Mars/Olympus_Mons\"" && e.Problem.Contains("IANA", StringComparison.Ordinal));
    }

    [Fact]
    public void A_promise_directory_must_be_a_list_of_strings()
    {
        var ex = Assert.Throws<ConfigException>(() => Parse("""{ "promiseDirectories": "etc/monitor-promise" }"""));

        Assert.Contains(ex.Errors, e => e.Field == "promiseDirectories" && e.Problem.Contains("array of strings", StringComparison.Ordinal));
    }
}
