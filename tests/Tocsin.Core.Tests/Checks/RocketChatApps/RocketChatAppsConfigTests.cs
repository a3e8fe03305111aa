using Tocsin.Checks;
using Tocsin.Checks.RocketChat;
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
        Assert.Equal(DiscoveryType.Static, o.Discovery.Type);
        Assert.Equal(2, o.Discovery.StaticUrls.Count);
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
        Assert.Equal(DiscoveryType.InstancesApi, o.Discovery.Type);
        Assert.Equal(3000, o.Discovery.InstancePort);
        Assert.Equal(3, o.MaxAttempts);
    }

    [Fact]
    public void The_kind_runs_every_5_minutes_on_the_leader_unless_told_otherwise()
    {
        var check = Check("""  "serverUrl": "https://chat.example.org", "userId": "u1", "pat": "p" """);
        Assert.Equal(TimeSpan.FromMinutes(5), check.Interval);
        Assert.Equal(CheckPlacement.Leader, check.Placement);

        var set = Check("""  "serverUrl": "https://chat.example.org", "userId": "u1", "pat": "p", "interval": "1m", "placement": "shard" """);
        Assert.Equal(TimeSpan.FromMinutes(1), set.Interval);
        Assert.Equal(CheckPlacement.Shard, set.Placement);

        // defaults.interval wins over the kind's default, as defaults.timeout does.
        var config = Loader.Parse("""
            { "defaults": { "interval": "2m" }, "checks": [{ "name": "apps", "kind": "rocketchat-apps", "serverUrl": "https://x", "userId": "u", "pat": "p" }] }
            """, "/tocsin-tests/config.json");
        Assert.Equal(TimeSpan.FromMinutes(2), config.Checks[0].Interval);
    }

    [Fact]
    public void An_alert_room_becomes_a_rocketchat_channel_the_check_notifies_with_the_same_credentials()
    {
        var config = Loader.Parse($$"""
            { "notifications": [{ "name": "ops", "type": "webhook", "url": "https://hooks.example.org/x" }],
              "checks": [{ "name": "apps", "kind": "rocketchat-apps", "serverUrl": "https://chat.example.org", "userId": "u1", "pat": "{{Pat}}",
                           "alertRoom": "ROOM1", "notify": ["ops"] }] }
            """, "/tocsin-tests/config.json");
        var channel = Assert.Single(config.Notifications, c => c.Name == RocketChatAppsCheckKind.AlertRoomChannelName("apps"));
        Assert.Equal("rocketchat", channel.Type);
        var o = Assert.IsType<Tocsin.Alerting.Channels.RocketChatChannelOptions>(channel.Options);
        Assert.Equal("ROOM1", o.Room);
        Assert.Equal(Pat, o.Pat);
        Assert.False(o.RoomIsName);
        Assert.Equal(["ops", channel.Name], config.Checks[0].Alerting.Notify);

        var errors = Assert.Throws<ConfigException>(() => Loader.Parse("""
            { "checks": [{ "name": "apps", "kind": "rocketchat-apps", "serverUrl": "https://x", "userId": "u", "pat": "p", "alertRoom": "two words" }] }
            """, "/tocsin-tests/config.json")).Errors;
        Assert.Contains(errors, e => e.ToString().Contains("alertRoom", StringComparison.Ordinal) && e.ToString().Contains("without spaces", StringComparison.Ordinal));
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
