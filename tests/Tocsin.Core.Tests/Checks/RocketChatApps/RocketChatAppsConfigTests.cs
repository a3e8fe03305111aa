using Tocsin.Checks;
using Tocsin.Checks.RocketChatApps;
using Tocsin.Configuration;
using Tocsin.Status;

namespace Tocsin.Core.Tests.Checks.RocketChatApps;

public sealed class RocketChatAppsConfigTests
{
    private const string Pat = "pat-0123456789-secret";

    private static readonly ConfigLoader Loader = new(CheckKinds.CreateDefault(TimeProvider.System));

    private static CheckDefinition Check(string fields) =>
        Assert.Single(Loader.Parse($$"""{ "checks": [{ "name": "apps", "kind": "rocketchat-apps", {{fields}} }] }""", "/tocsin-tests/config.json").Checks);

    private static List<string> Errors(string fields) =>
        [.. Assert.Throws<ConfigException>(() => Check(fields)).Errors.Select(e => e.ToString())];

    [Fact]
    public void Options_are_read_and_the_pat_is_never_shown()
    {
        var check = Check($$"""
            "serverUrl": "https://chat.example.org", "userId": "u1", "pat": "{{Pat}}", "appIds": ["clamav"], "maxAttempts": 5, "dryRun": true,
            "discovery": { "type": "static", "urls": ["http://10.0.0.5:3000", "http://10.0.0.6:3000"] }
            """);
        var o = Assert.IsType<RocketChatAppsOptions>(check.Options);
        Assert.Equal(DiscoveryType.Static, o.Discovery);
        Assert.Equal(2, o.StaticUrls.Count);
        Assert.Equal(5, o.MaxAttempts);
        Assert.True(o.DryRun);
        Assert.Equal(Pat, o.Pat);
        Assert.DoesNotContain(Pat, o.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Pat, new RocketChatAppsCheckKind(TimeProvider.System).Describe(o), StringComparison.Ordinal);
        var lines = DefinitionView.Lines(check);
        Assert.Equal("***", Assert.Single(lines, l => l.Key == "pat").Value);
        Assert.DoesNotContain(lines, l => l.Value.Contains(Pat, StringComparison.Ordinal));
    }

    [Fact]
    public void The_pat_may_come_from_an_environment_variable_and_discovery_defaults_to_the_instances_api()
    {
        Environment.SetEnvironmentVariable("TOCSIN_TEST_RC_PAT", Pat);
        var o = Assert.IsType<RocketChatAppsOptions>(Check("""
            "serverUrl": "https://chat.example.org", "userId": "u1", "patEnv": "TOCSIN_TEST_RC_PAT"
            """).Options);
        Assert.Equal(Pat, o.Pat);
        Assert.Equal(DiscoveryType.InstancesApi, o.Discovery);
        Assert.Equal(3000, o.InstancePort);
        Assert.Equal(3, o.MaxAttempts);
    }

    [Theory]
    [InlineData("""  "userId": "u1", "pat": "p" """, "field \"serverUrl\": is required")]
    [InlineData("""  "serverUrl": "ftp://x", "userId": "u1", "pat": "p" """, "must be the server's http:// or https:// base URL")]
    [InlineData("""  "serverUrl": "https://x", "pat": "p" """, "field \"userId\": is required")]
    [InlineData("""  "serverUrl": "https://x", "userId": "u1" """, "field \"pat\": is required")]
    [InlineData("""  "serverUrl": "https://x", "userId": "u1", "pat": "p", "discovery": { "type": "static" } """, "field \"discovery.urls\": is required")]
    [InlineData("""  "serverUrl": "https://x", "userId": "u1", "pat": "p", "discovery": { "type": "dns" } """, "allowed: \"instances-api\"")]
    [InlineData("""  "serverUrl": "https://x", "userId": "u1", "pat": "p", "maxAttempts": 0 """, "maxAttempts")]
    public void Bad_options_are_named(string fields, string expected)
    {
        var errors = Errors(fields);
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }
}
