using Tocsin.Alerting;
using Tocsin.Alerting.Channels;
using Tocsin.Checks;
using Tocsin.Configuration;

namespace Tocsin.Core.Tests.Alerting.Channels;

/// <summary>Reading and validating each channel type's fields: clear errors naming the field, the value (never a secret's) and what is allowed.</summary>
public sealed class ChannelConfigTests : IDisposable
{
    private const string Secret = "s3cr3t-VALUE-never-shown";

    private static readonly ConfigLoader Loader = new(CheckKinds.CreateDefault(TimeProvider.System));

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string ConfigPath => _folder.File("config.json");

    private TocsinConfig Parse(string channel) => Loader.Parse($$"""{ "notifications": [ {{channel}} ] }""", ConfigPath);

    private ConfigError Error(string channel, string field)
    {
        var ex = Assert.Throws<ConfigException>(() => Parse(channel));
        Assert.DoesNotContain(Secret, ex.Message, StringComparison.Ordinal);
        return Assert.Single(ex.Errors, e => e.Field == field);
    }

    [Fact]
    public void The_default_registry_knows_the_four_types()
    {
        Assert.Equal(["email", "rocketchat", "slack", "webhook"], NotificationChannelTypes.CreateDefault().Names);
    }

    [Fact]
    public void A_webhook_reads_its_fields_with_defaults_and_describes_itself_without_secrets()
    {
        var c = Assert.Single(Parse($$$"""{"name": "ops", "type": "webhook", "url": "https://hooks.example.org/tocsin/in?token={{{Secret}}}", "secret": "{{{Secret}}}", "headers": {"Authorization": "Bearer {{{Secret}}}"}}""").Notifications);
        var o = Assert.IsType<WebhookChannelOptions>(c.Options);

        Assert.Equal(("ops", "webhook", "POST", Secret, "application/json"), (c.Name, c.Type, o.Method, o.Secret, o.ContentType));
        Assert.Equal("Bearer " + Secret, o.Headers["authorization"]);
        Assert.Null(o.Template);
        string described = new WebhookChannelType().Describe(o);
        Assert.Equal("POST https://hooks.example.org/tocsin/…, signed", described);
        Assert.DoesNotContain(Secret, o.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_webhook_url_is_required_and_must_be_http()
    {
        Assert.Contains("is required", Error("""{"name": "ops", "type": "webhook"}""", "url").Problem, StringComparison.Ordinal);
        var bad = Error("""{"name": "ops", "type": "webhook", "url": "ftp://example.org/x"}""", "url");
        Assert.Contains("http:// or https://", bad.Problem, StringComparison.Ordinal);
        Assert.Equal("notifications[0] \"ops\"", bad.Location);
    }

    [Fact]
    public void A_webhook_url_with_credentials_is_refused_without_showing_them()
    {
        var e = Error($$"""{"name": "ops", "type": "webhook", "url": "https://user:{{Secret}}@hooks.example.org/a/b?x={{Secret}}"}""", "url");

        Assert.Contains("credentials", e.Problem, StringComparison.Ordinal);
        Assert.Equal("\"https://hooks.example.org/a/…\"", e.Value);
    }

    [Fact]
    public void A_webhook_method_must_be_post_or_put()
    {
        var e = Error("""{"name": "ops", "type": "webhook", "url": "https://h.example/x", "method": "GET"}""", "method");
        Assert.Equal("\"GET\"", e.Value);
        Assert.Contains("allowed: POST, PUT", e.Problem, StringComparison.Ordinal);
        var put = Assert.IsType<WebhookChannelOptions>(Assert.Single(Parse("""{"name": "ops", "type": "webhook", "url": "https://h.example/x", "method": "put"}""").Notifications).Options);
        Assert.Equal("PUT", put.Method);
    }

    [Fact]
    public void An_unknown_template_placeholder_is_named_with_the_allowed_ones()
    {
        var e = Error("""{"name": "ops", "type": "webhook", "url": "https://h.example/x", "template": "{\"t\": \"{{title}}\", \"n\": \"{{ nmae }}\"}"}""", "template");

        Assert.Equal("\"{{ nmae }}\"", e.Value);
        Assert.Contains("unknown placeholder; allowed: {{id}}, {{idempotencyKey}}, {{type}}", e.Problem, StringComparison.Ordinal);
        Assert.Contains("{{title}}, {{text}}", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_template_content_type_needs_a_template_and_a_media_type()
    {
        Assert.Contains("only used with \"template\"",
            Error("""{"name": "ops", "type": "webhook", "url": "https://h.example/x", "templateContentType": "text/plain"}""", "templateContentType").Problem, StringComparison.Ordinal);
        Assert.Contains("not a media type",
            Error("""{"name": "ops", "type": "webhook", "url": "https://h.example/x", "template": "x", "templateContentType": "not a type"}""", "templateContentType").Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Webhook_headers_cannot_override_tocsins_own_and_bad_values_are_not_shown()
    {
        var reserved = Error("""{"name": "ops", "type": "webhook", "url": "https://h.example/x", "headers": {"X-Tocsin-Signature": "x"}}""", "headers");
        Assert.Equal("\"X-Tocsin-Signature\"", reserved.Value);
        Assert.Contains("is set by Tocsin", reserved.Problem, StringComparison.Ordinal);

        var control = Error($$$"""{"name": "ops", "type": "webhook", "url": "https://h.example/x", "headers": {"Authorization": "{{{Secret}}}\r\nX: y"}}""", "headers");
        Assert.Null(control.Value);
        Assert.Contains("\"Authorization\"", control.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_secret_given_twice_or_from_an_unset_variable_is_refused_naming_the_field()
    {
        Assert.Contains("give only one of \"secret\", \"secretEnv\" and \"secretFile\"",
            Error($$"""{"name": "ops", "type": "webhook", "url": "https://h.example/x", "secret": "{{Secret}}", "secretEnv": "X"}""", "secret").Problem, StringComparison.Ordinal);
        Assert.Contains("not set",
            Error("""{"name": "ops", "type": "webhook", "url": "https://h.example/x", "secretEnv": "TOCSIN_TEST_SURELY_UNSET_VARIABLE"}""", "secretEnv").Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_secret_is_read_from_a_file_relative_to_the_config()
    {
        File.WriteAllText(_folder.File("hmac"), Secret + "\nignored\n");
        var o = Assert.IsType<WebhookChannelOptions>(Assert.Single(Parse("""{"name": "ops", "type": "webhook", "url": "https://h.example/x", "secretFile": "hmac"}""").Notifications).Options);

        Assert.Equal(Secret, o.Secret);
    }

    [Fact]
    public void An_unknown_field_is_refused_with_the_allowed_ones()
    {
        var e = Error("""{"name": "ops", "type": "webhook", "url": "https://h.example/x", "metod": "PUT"}""", "metod");
        Assert.Contains("unknown field; allowed:", e.Problem, StringComparison.Ordinal);
        Assert.Contains("method", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_slack_url_is_a_secret_never_shown_in_errors_or_descriptions()
    {
        Assert.Contains("is required", Error("""{"name": "s", "type": "slack"}""", "url").Problem, StringComparison.Ordinal);
        var bad = Error($$"""{"name": "s", "type": "slack", "url": "{{Secret}}"}""", "url");
        Assert.Null(bad.Value);
        Assert.Contains("it is a secret", bad.Problem, StringComparison.Ordinal);

        var c = Assert.Single(Parse($$"""{"name": "s", "type": "slack", "url": "https://hooks.slack.com/services/T0/B0/{{Secret}}", "channel": "#ops"}""").Notifications);
        Assert.Equal("https://hooks.slack.com/… #ops", new SlackChannelType().Describe(c.Options));
    }

    [Fact]
    public void A_slack_icon_must_be_an_emoji_code()
    {
        var e = Error("""{"name": "s", "type": "slack", "url": "https://hooks.slack.com/services/x", "iconEmoji": "bell"}""", "iconEmoji");
        Assert.Equal("\"bell\"", e.Value);
        Assert.Contains("\":rotating_light:\"", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_rocketchat_channel_needs_one_of_the_two_forms()
    {
        var neither = Error("""{"name": "rc", "type": "rocketchat"}""", "serverUrl");
        Assert.Contains("give either \"serverUrl\" + \"userId\" + \"pat\"", neither.Problem, StringComparison.Ordinal);
        Assert.Contains("\"webhookUrl\"", neither.Problem, StringComparison.Ordinal);

        var both = Error($$"""{"name": "rc", "type": "rocketchat", "serverUrl": "https://chat.example", "webhookUrl": "https://chat.example/hooks/a/{{Secret}}"}""", "webhookUrl");
        Assert.Contains("cannot be combined with \"serverUrl\"", both.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_rocketchat_rest_channel_names_each_missing_field()
    {
        var ex = Assert.Throws<ConfigException>(() => Parse("""{"name": "rc", "type": "rocketchat", "serverUrl": "https://chat.example"}"""));

        Assert.Equal(["pat", "room", "userId"], ex.Errors.Select(e => e.Field).Order(StringComparer.Ordinal));
        Assert.Contains("\"patEnv\"", Assert.Single(ex.Errors, e => e.Field == "pat").Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_rocketchat_room_must_not_hold_spaces()
    {
        var e = Error($$"""{"name": "rc", "type": "rocketchat", "serverUrl": "https://chat.example", "userId": "u1", "pat": "{{Secret}}", "room": "#ops room"}""", "room");
        Assert.Equal("\"#ops room\"", e.Value);
    }

    [Fact]
    public void Rocketchat_descriptions_show_the_endpoint_and_hide_the_pat_and_hook_token()
    {
        var types = new RocketChatChannelType();
        var rest = Assert.Single(Parse($$"""{"name": "rc", "type": "rocketchat", "serverUrl": "https://chat.example", "userId": "u1", "pat": "{{Secret}}", "room": "GENERAL"}""").Notifications);
        var named = Assert.Single(Parse($$"""{"name": "rc", "type": "rocketchat", "serverUrl": "https://chat.example", "userId": "u1", "pat": "{{Secret}}", "room": "@alice"}""").Notifications);
        var hook = Assert.Single(Parse($$"""{"name": "rc", "type": "rocketchat", "webhookUrl": "https://chat.example/hooks/abc/{{Secret}}"}""").Notifications);

        Assert.Equal("chat.sendMessage to GENERAL on https://chat.example/ as u1", types.Describe(rest.Options));
        Assert.Equal("chat.postMessage to @alice on https://chat.example/ as u1", types.Describe(named.Options));
        Assert.Equal("incoming webhook https://chat.example/hooks/…", types.Describe(hook.Options));
    }

    [Theory]
    [InlineData("starttls", 587)]
    [InlineData("tls", 465)]
    [InlineData("none", 25)]
    public void Email_ports_default_by_security(string security, int port)
    {
        var c = Assert.Single(Parse($$"""{"name": "m", "type": "email", "host": "smtp.example.org", "security": "{{security}}", "from": "Tocsin <t@example.org>", "to": "ops@example.org"}""").Notifications);
        var o = Assert.IsType<EmailChannelOptions>(c.Options);

        Assert.Equal(port, o.Port);
        Assert.Equal("ops@example.org", Assert.Single(o.To).Address);
        Assert.Equal($"smtp smtp.example.org:{port} ({security}) to ops@example.org", new EmailChannelType().Describe(o));
    }

    [Fact]
    public void An_email_channel_names_its_missing_and_bad_fields()
    {
        var ex = Assert.Throws<ConfigException>(() => Parse("""{"name": "m", "type": "email", "security": "ssl", "port": 70000}"""));

        Assert.Equal(["from", "host", "port", "security", "to"], ex.Errors.Select(e => e.Field).Order(StringComparer.Ordinal));
        Assert.Contains("allowed: starttls, tls, none", Assert.Single(ex.Errors, e => e.Field == "security").Problem, StringComparison.Ordinal);
        Assert.Contains("from 1 to 65535", Assert.Single(ex.Errors, e => e.Field == "port").Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Email_addresses_must_be_addresses()
    {
        var e = Error("""{"name": "m", "type": "email", "host": "smtp.example.org", "from": "t@example.org", "to": ["ops@example.org", "not an address"]}""", "to");
        Assert.Equal("\"not an address\"", e.Value);
        Assert.Contains("\"Name <user@example.org>\"", e.Problem, StringComparison.Ordinal);
        Assert.Contains("at least one", Error("""{"name": "m", "type": "email", "host": "smtp.example.org", "from": "t@example.org", "to": []}""", "to").Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Email_credentials_come_in_pairs_and_never_over_plain_text()
    {
        Assert.Contains("is required with \"username\"",
            Error("""{"name": "m", "type": "email", "host": "h.example", "from": "t@example.org", "to": "o@example.org", "username": "u"}""", "password").Problem, StringComparison.Ordinal);
        Assert.Contains("is required with a password",
            Error($$"""{"name": "m", "type": "email", "host": "h.example", "from": "t@example.org", "to": "o@example.org", "password": "{{Secret}}"}""", "username").Problem, StringComparison.Ordinal);
        Assert.Contains("never sent unencrypted",
            Error($$"""{"name": "m", "type": "email", "host": "h.example", "security": "none", "from": "t@example.org", "to": "o@example.org", "username": "u", "password": "{{Secret}}"}""", "security").Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void An_email_ca_file_must_exist_and_hold_pem_certificates()
    {
        File.WriteAllText(_folder.File("empty.pem"), "not a certificate\n");

        var missing = Error("""{"name": "m", "type": "email", "host": "h.example", "from": "t@example.org", "to": "o@example.org", "caFile": "nope.pem"}""", "caFile");
        var empty = Error("""{"name": "m", "type": "email", "host": "h.example", "from": "t@example.org", "to": "o@example.org", "caFile": "empty.pem"}""", "caFile");

        Assert.Equal("\"nope.pem\"", missing.Value);
        Assert.Contains("cannot be read", missing.Problem, StringComparison.Ordinal);
        Assert.Contains("holds no certificate", empty.Problem, StringComparison.Ordinal);
    }
}
