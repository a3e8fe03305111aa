using Tocsin.Alerting;
using Tocsin.Core.Tests.TestServers;

namespace Tocsin.Core.Tests.Alerting.Channels;

/// <summary>The email channel against a real SMTP server (aiosmtpd): plain, STARTTLS and implicit TLS trusted through caFile, AUTH.</summary>
public sealed class EmailChannelTests : IDisposable
{
    private const string User = "tocsin";
    private const string Password = "smtp-Password-5e6f7a8b";

    private readonly TempFolder _config = new();

    public void Dispose() => _config.Dispose();

    private ChannelUnderTest Email(int port, string security, string extra = "", string to = "\"ops@example.org\", \"Second <second@example.org>\"") => new(
        $$"""{"name": "mail", "type": "email", "host": "127.0.0.1", "port": {{port}}, "security": "{{security}}", "from": "Tocsin <tocsin@example.org>", "to": [{{to}}], "subjectPrefix": "[tocsin] "{{extra}}}""",
        configPath: _config.File("config.json"));

    [Fact]
    public async Task Email_without_tls_delivers_subject_body_and_headers()
    {
        await using var smtp = await SmtpReceiver.StartAsync("none");
        using var c = Email(smtp.Port, "none");

        await c.Channel.SendAsync(Samples.Problem(), TestContext.Current.CancellationToken);

        var mail = Assert.Single(smtp.Messages());
        Assert.Equal("tocsin@example.org", mail.From);
        Assert.Equal(["ops@example.org", "second@example.org"], mail.To);
        Assert.False(mail.StartTls);
        Assert.Null(mail.Login);
        Assert.Contains("Subject: [tocsin] CRITICAL: site-home (problem)", mail.Data, StringComparison.Ordinal);
        Assert.Contains("X-Tocsin-Event: problem", mail.Data, StringComparison.Ordinal);
        Assert.Contains($"X-Tocsin-Idempotency-Key: {Samples.Problem().IdempotencyKey}", mail.Data, StringComparison.Ordinal);
        Assert.Contains($"Message-Id: <{Samples.Id:D}@tocsin>", mail.Data, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Content-Type: text/plain; charset=utf-8", mail.Data, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("HTTP 503 Service Unavailable\r\nCheck: site-home (http)\r\n", mail.Data, StringComparison.Ordinal);
        Assert.Contains("Link: https://tocsin.example.org/checks/site-home", mail.Data, StringComparison.Ordinal);
        Assert.Contains(c.Logs.GetSnapshot(), r => r.Message.Contains("Delivered problem notification", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Email_with_starttls_trusts_the_server_through_caFile_and_authenticates()
    {
        using var certs = await SmtpReceiver.Certificates.CreateAsync();
        await using var smtp = await SmtpReceiver.StartAsync("starttls", certs, User, Password);
        using var c = Email(smtp.Port, "starttls", $$""", "caFile": "{{certs.CaCertificate}}", "username": "{{User}}", "password": "{{Password}}" """);

        await c.Channel.SendAsync(Samples.Problem(), TestContext.Current.CancellationToken);

        var mail = Assert.Single(smtp.Messages());
        Assert.True(mail.StartTls);
        Assert.Equal(User, mail.Login);
        Assert.Contains($"CA {certs.CaCertificate}", c.Describe(), StringComparison.Ordinal);
        Assert.DoesNotContain(Password, c.AllLogText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Email_with_implicit_tls_trusts_the_server_through_caFile()
    {
        using var certs = await SmtpReceiver.Certificates.CreateAsync();
        await using var smtp = await SmtpReceiver.StartAsync("tls", certs, User, Password);
        File.WriteAllText(_config.File("smtp-password"), Password + "\n");
        using var c = Email(smtp.Port, "tls", $$""", "caFile": "{{certs.CaCertificate}}", "username": "{{User}}", "passwordFile": "smtp-password" """);

        await c.Channel.SendAsync(Samples.Of(NotificationType.Acknowledged) with { AcknowledgedBy = "alice" }, TestContext.Current.CancellationToken);

        var mail = Assert.Single(smtp.Messages());
        Assert.Equal(("tls", User), (mail.Mode, mail.Login));
        Assert.Contains("Subject: [tocsin] ACKNOWLEDGED: site-home (CRITICAL) by alice", mail.Data, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_certificate_from_another_ca_is_refused_permanently()
    {
        using var served = await SmtpReceiver.Certificates.CreateAsync("Server CA");
        using var other = await SmtpReceiver.Certificates.CreateAsync("Other CA");
        await using var smtp = await SmtpReceiver.StartAsync("starttls", served);
        using var c = Email(smtp.Port, "starttls", $$""", "caFile": "{{other.CaCertificate}}" """);

        var ex = await c.FailAsync(Samples.Problem());

        Assert.True(ex.Permanent);
        Assert.StartsWith($"email \"mail\": smtp 127.0.0.1:{smtp.Port}: TLS handshake failed: the server's certificate does not chain to caFile", ex.Message, StringComparison.Ordinal);
        Assert.Empty(smtp.Messages());
    }

    [Fact]
    public async Task A_system_store_without_the_private_ca_refuses_the_server()
    {
        using var certs = await SmtpReceiver.Certificates.CreateAsync();
        await using var smtp = await SmtpReceiver.StartAsync("tls", certs);
        using var c = Email(smtp.Port, "tls");

        var ex = await c.FailAsync(Samples.Problem());

        Assert.True(ex.Permanent);
        Assert.Contains("TLS handshake failed", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_password_is_permanent_and_never_shown()
    {
        const string Wrong = "wrong-Password-0a1b2c3d";
        using var certs = await SmtpReceiver.Certificates.CreateAsync();
        await using var smtp = await SmtpReceiver.StartAsync("starttls", certs, User, Password);
        using var c = Email(smtp.Port, "starttls", $$""", "caFile": "{{certs.CaCertificate}}", "username": "{{User}}", "password": "{{Wrong}}" """);

        var ex = await c.FailAsync(Samples.Problem());

        Assert.True(ex.Permanent);
        Assert.Contains("authentication as \"tocsin\" refused", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Wrong, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Wrong, c.AllLogText(), StringComparison.Ordinal);
        Assert.Empty(smtp.Messages());
    }

    [Fact]
    public async Task Smtp_4xx_replies_are_transient_and_5xx_permanent()
    {
        await using var smtp = await SmtpReceiver.StartAsync("none");
        using var later = Email(smtp.Port, "none", to: "\"tempfail@example.org\"");
        using var never = Email(smtp.Port, "none", to: "\"reject@example.org\"");

        var transient = await later.FailAsync(Samples.Problem());
        var permanent = await never.FailAsync(Samples.Problem());

        Assert.False(transient.Permanent);
        Assert.Contains("refused for now with 451 (RecipientNotAccepted tempfail@example.org)", transient.Message, StringComparison.Ordinal);
        Assert.True(permanent.Permanent);
        Assert.Contains("refused with 550 (RecipientNotAccepted reject@example.org)", permanent.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_closed_port_is_transient()
    {
        using var c = Email(KestrelTarget.ClosedPort(), "none");

        var ex = await c.FailAsync(Samples.Problem());

        Assert.False(ex.Permanent);
        Assert.Contains("cannot connect (ConnectionRefused)", ex.Message, StringComparison.Ordinal);
    }
}
