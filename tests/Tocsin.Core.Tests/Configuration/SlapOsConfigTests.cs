using Tocsin.Checks;
using Tocsin.Configuration;

namespace Tocsin.Core.Tests.Configuration;

/// <summary>The <c>slapos</c> section: <c>publicFolder</c>, resolved like the other paths, validated when the config loads.</summary>
public sealed class SlapOsConfigTests
{
    private static readonly ConfigLoader Loader = new(CheckKinds.CreateDefault(TimeProvider.System));

    private static readonly string ConfigFolder = Path.Combine(Path.GetTempPath(), "tocsin-slapos-config-tests");

    private static readonly string ConfigPath = Path.Combine(ConfigFolder, "config.json");

    private static TocsinConfig Parse(string json) => Loader.Parse(json, ConfigPath);

    [Fact]
    public void Without_the_section_no_status_files_are_written() =>
        Assert.Null(Parse("""{ "checks": [] }""").SlapOsPublicFolder);

    [Fact]
    public void A_relative_folder_is_relative_to_the_config_file_and_need_not_exist_yet()
    {
        var config = Parse("""{ "slapos": { "publicFolder": "srv/monitor/public" } }""");

        Assert.Equal(Path.Combine(ConfigFolder, "srv", "monitor", "public"), config.SlapOsPublicFolder);
    }

    [Fact]
    public void An_absolute_folder_and_one_under_home_are_kept()
    {
        Assert.Equal("/srv/slapgrid/slappart3/srv/monitor/public", Parse("""{ "slapos": { "publicFolder": "/srv/slapgrid/slappart3/srv/monitor/public/" } }""").SlapOsPublicFolder!.TrimEnd('/'));
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        Assert.Equal(Path.Combine(home, "srv", "public"), Parse("""{ "slapos": { "publicFolder": "~/srv/public" } }""").SlapOsPublicFolder);
    }

    [Theory]
    [InlineData("""{ "slapos": {} }""", "slapos.publicFolder", "is required")]
    [InlineData("""{ "slapos": { "publicFolder": "" } }""", "slapos.publicFolder", "must be the path of the folder")]
    [InlineData("""{ "slapos": { "publicFolder": "  " } }""", "slapos.publicFolder", "must be the path of the folder")]
    [InlineData("""{ "slapos": { "publicFolder": 3 } }""", "slapos.publicFolder", "string")]
    [InlineData("""{ "slapos": { "publicFolder": "p", "privateFolder": "q" } }""", "slapos.privateFolder", "unknown field")]
    [InlineData("""{ "slapos": "public" }""", "slapos", "must be an object")]
    public void Bad_values_are_refused_naming_the_field(string json, string field, string problem)
    {
        var ex = Assert.Throws<ConfigException>(() => Parse(json));

        var error = Assert.Single(ex.Errors);
        Assert.Equal(field, error.Field);
        Assert.Contains(problem, error.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_is_refused()
    {
        using var folder = new TempFolder();
        string file = folder.File("not-a-folder");
        File.WriteAllText(file, "");

        var ex = Assert.Throws<ConfigException>(() => Loader.Parse($$"""{ "slapos": { "publicFolder": "{{file}}" } }""", ConfigPath));

        var error = Assert.Single(ex.Errors);
        Assert.Equal("slapos.publicFolder", error.Field);
        Assert.Contains("is a file", error.Problem, StringComparison.Ordinal);
    }
}
