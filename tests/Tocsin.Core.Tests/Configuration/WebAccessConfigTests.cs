using Tocsin.Access;
using Tocsin.Checks;
using Tocsin.Configuration;

namespace Tocsin.Core.Tests.Configuration;

public sealed class WebAccessConfigTests
{
    private static readonly ConfigLoader Loader = new(CheckKinds.CreateDefault(TimeProvider.System));

    private static readonly string ConfigPath = Path.Combine(Path.GetTempPath(), "tocsin-config-tests", "config.json");

    private static readonly string Hash = PasswordHash.Create("pw");

    private static readonly string Sha = AccessTokens.Sha256Hex("token");

    private static TocsinConfig Parse(string web) => Loader.Parse($$"""{ "web": {{web}}, "checks": [] }""", ConfigPath);

    [Fact]
    public void Auth_tokens_users_related_monitors_and_title_are_read()
    {
        var config = Parse($$"""
            { "title": "KVM", "relatedMonitors": ["https://a.example/", "http://b.example:8080/m"],
              "auth": { "tokens": [{ "name": "ops", "tokenSha256": "{{Sha.ToUpperInvariant()}}" }], "users": [{ "name": "admin", "passwordHash": "{{Hash}}" }] } }
            """);

        Assert.True(config.WebAuth.IsConfigured);
        Assert.Equal("ops", Assert.Single(config.WebAuth.Tokens).Name);
        Assert.Equal(AccessTokens.Sha256("token"), config.WebAuth.Tokens[0].Sha256);
        Assert.True(Assert.Single(config.WebAuth.Users).PasswordHash.Verify("pw"));
        Assert.Equal(["https://a.example/", "http://b.example:8080/m"], config.RelatedMonitors.Select(u => u.AbsoluteUri));
        Assert.Equal("KVM", config.WebTitle);
    }

    [Fact]
    public void No_web_section_means_no_auth_and_default_title()
    {
        var config = Loader.Parse("""{ "checks": [] }""", ConfigPath);
        Assert.False(config.WebAuth.IsConfigured);
        Assert.Empty(config.RelatedMonitors);
        Assert.Equal("Tocsin", config.WebTitle);
    }

    [Fact]
    public void Every_auth_problem_is_reported_at_once_naming_the_field_without_repeating_a_secret()
    {
        string shortHex = Sha[..63];
        var ex = Assert.Throws<ConfigException>(() => Parse($$"""
            { "relatedMonitors": ["ftp://x.example/", "not a url"],
              "auth": {
                "tokens": [{ "name": "ops", "tokenSha256": "{{shortHex}}" }, { "name": "ci", "tokenSha256": "{{new string('z', 64)}}" }],
                "users": [{ "name": "ops", "passwordHash": "{{Hash}}" }, { "name": "bob", "passwordHash": "$2b$10$bcrypt-is-not-supported" }, { "name": "a:b", "passwordHash": "{{Hash}}" }],
                "groups": [] } }
            """));

        var fields = ex.Errors.Select(e => e.Field).ToList();
        Assert.Contains("web.auth.tokens[0].tokenSha256", fields);
        Assert.Contains("web.auth.tokens[1].tokenSha256", fields);
        Assert.Contains("web.auth.users[0].name", fields);
        Assert.Contains("web.auth.users[1].passwordHash", fields);
        Assert.Contains("web.auth.users[2].name", fields);
        Assert.Contains("web.auth.groups", fields);
        Assert.Equal(2, fields.Count(f => f == "web.relatedMonitors"));
        Assert.Contains("64 hexadecimal digits", ex.Message, StringComparison.Ordinal);
        Assert.Contains("(63 characters)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("duplicate name", ex.Message, StringComparison.Ordinal);
        Assert.Contains("unknown hash format", ex.Message, StringComparison.Ordinal);
        Assert.Contains("absolute http:// or https:// URL", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(shortHex, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("bcrypt-is-not-supported", ex.Message, StringComparison.Ordinal);
    }
}
