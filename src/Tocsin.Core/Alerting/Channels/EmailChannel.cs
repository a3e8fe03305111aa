using System.Diagnostics;
using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Logging;
using MimeKit;
using Tocsin.Configuration;

namespace Tocsin.Alerting.Channels;

/// <summary>How an <c>email</c> channel secures its SMTP connection (config <c>security</c>).</summary>
public enum SmtpSecurity
{
    /// <summary><c>starttls</c>: plain connection upgraded with STARTTLS, which the server must offer (default port 587).</summary>
    StartTls,

    /// <summary><c>tls</c>: TLS from the first byte, "implicit TLS" (default port 465).</summary>
    Tls,

    /// <summary><c>none</c>: no encryption (default port 25); no password may be sent.</summary>
    None,
}

/// <summary>Options of an <c>email</c> channel. <see cref="object.ToString"/> is not overridden: the password is never printed.</summary>
public sealed class EmailChannelOptions
{
    /// <summary>The SMTP server's host name or address (config <c>host</c>).</summary>
    public required string Host { get; init; }

    /// <summary>The SMTP port (config <c>port</c>). <value>Default: 587 for starttls, 465 for tls, 25 for none.</value></summary>
    public int Port { get; init; }

    /// <summary>Connection security (config <c>security</c>). <value>Default: starttls.</value></summary>
    public SmtpSecurity Security { get; init; } = SmtpSecurity.StartTls;

    /// <summary>The SMTP AUTH user (config <c>username</c>), or null for no authentication.</summary>
    public string? Username { get; init; }

    /// <summary>The SMTP AUTH password (config <c>password</c>, <c>passwordEnv</c> or <c>passwordFile</c>), with <see cref="Username"/>.</summary>
    public string? Password { get; init; }

    /// <summary>The sender (config <c>from</c>, e.g. <c>Tocsin &lt;tocsin@example.org&gt;</c>).</summary>
    public required MailboxAddress From { get; init; }

    /// <summary>The recipients (config <c>to</c>: one address or an array), at least one.</summary>
    public required IReadOnlyList<MailboxAddress> To { get; init; }

    /// <summary>
    /// The certificates read from <c>caFile</c> (PEM): when set, the server's certificate chain must end at one of them (the
    /// system's trusted roots are not used) and its name must match <see cref="Host"/>; when null, the system store is used.
    /// </summary>
    public X509Certificate2Collection? TrustedCertificates { get; init; }

    /// <summary>The <c>caFile</c> path as configured, for descriptions; or null.</summary>
    public string? CaFile { get; init; }

    /// <summary>Text put before every subject (config <c>subjectPrefix</c>, e.g. <c>[tocsin] </c>), or empty.</summary>
    public string SubjectPrefix { get; init; } = "";
}

/// <summary>
/// The <c>email</c> channel type: one plain-text e-mail per notification through an SMTP server (MailKit), a new connection
/// for each.
/// </summary>
/// <remarks>
/// <para>Configuration: <c>{"name": "oncall-mail", "type": "email", "host": "smtp.example.org", "port": 587,
/// "security": "starttls", "username": "tocsin", "passwordFile": "/etc/tocsin/smtp-password", "from": "Tocsin &lt;tocsin@example.org&gt;",
/// "to": ["oncall@example.org"], "caFile": "/etc/tocsin/smtp-ca.pem", "subjectPrefix": "[tocsin] "}</c>.
/// <c>security</c>: <c>starttls</c> (default; port 587), <c>tls</c> (port 465) or <c>none</c> (port 25, no password allowed).
/// <c>caFile</c> (PEM, one or more certificates; relative to the config file's folder) replaces the system's trusted roots,
/// for private or self-signed servers.</para>
/// <para>Message: subject = <c>subjectPrefix</c> + <see cref="NotificationText.Title"/>; body = <see cref="NotificationText.Body"/>
/// as <c>text/plain; charset=utf-8</c>; <c>Message-Id: &lt;&lt;id&gt;@tocsin&gt;</c>, <c>X-Tocsin-Event: &lt;type&gt;</c> and
/// <c>X-Tocsin-Idempotency-Key</c> headers.</para>
/// <para>Outcome: the server accepted the message (250) = delivered; SMTP 4xx replies, connection errors and timeouts =
/// transient; SMTP 5xx replies, refused authentication, an untrusted certificate and a server without STARTTLS =
/// permanent.</para>
/// </remarks>
public sealed class EmailChannelType : INotificationChannelType
{
    /// <summary>The type's name in configuration.</summary>
    public const string TypeName = "email";

    /// <summary>Values of <c>security</c>.</summary>
    public static readonly IReadOnlyList<string> SecurityNames = ["starttls", "tls", "none"];

    /// <inheritdoc />
    public string Type => TypeName;

    /// <summary>The default port of a security mode: 587, 465 or 25.</summary>
    public static int DefaultPort(SmtpSecurity security) => security switch
    {
        SmtpSecurity.Tls => 465,
        SmtpSecurity.None => 25,
        _ => 587,
    };

    /// <inheritdoc />
    public object ReadOptions(ConfigObjectReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader;
        string? host = ChannelConfig.NonEmpty(r, "host", required: true, example: "\"smtp.example.org\"");
        if (host is not null && (host.Any(char.IsWhiteSpace) || Uri.CheckHostName(host) == UriHostNameType.Unknown))
        {
            r.Error("host", ConfigObjectReader.Quote(host), "must be a host name or an IP address, without scheme or port");
        }

        var security = ChannelConfig.OneOf(r, "security", SecurityNames) switch
        {
            "tls" => SmtpSecurity.Tls,
            "none" => SmtpSecurity.None,
            _ => SmtpSecurity.StartTls,
        };
        int port = (int)(r.Integer("port", 1, 65535) ?? DefaultPort(security));
        string? username = ChannelConfig.NonEmpty(r, "username");
        string? password = SecretField.Read(r, "password");
        if (username is not null && password is null && !r.Has("passwordEnv") && !r.Has("passwordFile") && !r.Has("password"))
        {
            r.Error("password", null, "is required with \"username\" (or \"passwordEnv\" naming an environment variable, or \"passwordFile\" naming a file)");
        }
        else if (username is null && password is not null)
        {
            r.Error("username", null, "is required with a password");
        }

        if (username is not null && security == SmtpSecurity.None)
        {
            r.Error("security", "\"none\"", "a password is never sent unencrypted: use \"starttls\" or \"tls\" with \"username\"");
        }

        var from = Address(r, "from", r.String("from"));
        if (from is null && !r.Has("from"))
        {
            r.Error("from", null, "is required: the sender, e.g. \"Tocsin <tocsin@example.org>\"");
        }

        var to = new List<MailboxAddress>();
        switch (r.Raw("to"))
        {
            case null:
                r.Error("to", null, "is required: one address or an array of addresses, e.g. [\"oncall@example.org\"]");
                break;
            case { ValueKind: JsonValueKind.String } one:
                if (Address(r, "to", one.GetString()) is { } a)
                {
                    to.Add(a);
                }

                break;
            case { ValueKind: JsonValueKind.Array } many:
                if (many.GetArrayLength() == 0)
                {
                    r.Error("to", "[]", "needs at least one address");
                }

                foreach (var item in many.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String)
                    {
                        r.Error("to", item.GetRawText(), "each recipient must be a string, e.g. \"oncall@example.org\"");
                    }
                    else if (Address(r, "to", item.GetString()) is { } b)
                    {
                        to.Add(b);
                    }
                }

                break;
            case { } other:
                r.Error("to", other.GetRawText(), "must be an address or an array of addresses");
                break;
        }

        string? caFile = r.String("caFile");
        X509Certificate2Collection? trusted = null;
        if (caFile is not null)
        {
            trusted = ReadCaFile(r, caFile);
        }

        string prefix = r.String("subjectPrefix") ?? "";
        if (prefix.Any(char.IsControl))
        {
            r.Error("subjectPrefix", ConfigObjectReader.Quote(prefix), "must not hold line breaks or control characters");
        }

        return new EmailChannelOptions
        {
            Host = host ?? "invalid.invalid", Port = port, Security = security, Username = username, Password = password,
            From = from ?? new MailboxAddress("", "invalid@invalid.invalid"), To = to, TrustedCertificates = trusted, CaFile = caFile, SubjectPrefix = prefix,
        };
    }

    /// <inheritdoc />
    public string Describe(object options) =>
        options is EmailChannelOptions o
            ? $"smtp {o.Host}:{o.Port.ToString(CultureInfo.InvariantCulture)} ({SecurityNames[(int)o.Security]}{(o.Username is null ? "" : ", auth " + o.Username)}{(o.CaFile is null ? "" : ", CA " + o.CaFile)}) to {string.Join(", ", o.To.Select(t => t.Address))}"
            : "";

    /// <inheritdoc />
    public INotificationChannel Create(string name, object options, NotificationChannelContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new EmailChannel(name, (EmailChannelOptions)options, context);
    }

    private static MailboxAddress? Address(ConfigObjectReader r, string field, string? text)
    {
        if (text is null)
        {
            return null;
        }

        if (!MailboxAddress.TryParse(text, out var address) || !address.Address.Contains('@', StringComparison.Ordinal) || address.Address.StartsWith('@') || address.Address.EndsWith('@'))
        {
            r.Error(field, ConfigObjectReader.Quote(text), "is not an e-mail address; write \"user@example.org\" or \"Name <user@example.org>\"");
            return null;
        }

        return address;
    }

    private static X509Certificate2Collection? ReadCaFile(ConfigObjectReader r, string caFile)
    {
        string full = Path.IsPathRooted(ConfigLoader.ExpandHome(caFile))
            ? ConfigLoader.ExpandHome(caFile)
            : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(r.File) ?? ".", caFile));
        var collection = new X509Certificate2Collection();
        try
        {
            collection.ImportFromPemFile(full);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            r.Error("caFile", ConfigObjectReader.Quote(caFile), $"cannot be read as PEM certificates ({ex.GetType().Name}: {ex.Message})");
            return null;
        }

        if (collection.Count == 0)
        {
            r.Error("caFile", ConfigObjectReader.Quote(caFile), "holds no certificate; it must be PEM (-----BEGIN CERTIFICATE-----)");
            return null;
        }

        return collection;
    }
}

/// <summary>One <c>email</c> channel; see <see cref="EmailChannelType"/>. Each send opens its own SMTP connection: safe for concurrent use.</summary>
public sealed class EmailChannel : INotificationChannel
{
    private readonly EmailChannelOptions _options;
    private readonly NotificationChannelContext _context;
    private readonly ILogger _logger;
    private readonly SecretScrubber _scrubber;
    private readonly string _who;
    private readonly string _target;

    /// <summary>Creates the channel.</summary>
    public EmailChannel(string name, EmailChannelOptions options, NotificationChannelContext context)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(context);
        Name = name;
        _options = options;
        _context = context;
        _logger = context.Loggers.CreateLogger<EmailChannel>();
        _scrubber = new SecretScrubber([options.Password]);
        _who = $"email {ConfigObjectReader.Quote(name)}";
        _target = $"smtp {options.Host}:{options.Port.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public string Type => EmailChannelType.TypeName;

    /// <summary>The message sent for <paramref name="notification"/>.</summary>
    public MimeMessage Message(Notification notification)
    {
        ArgumentNullException.ThrowIfNull(notification);
        var message = new MimeMessage();
        message.From.Add(_options.From);
        message.To.AddRange(_options.To);
        message.Subject = _options.SubjectPrefix + NotificationText.Title(notification);
        message.Date = _context.Time.GetUtcNow();
        message.MessageId = $"{notification.Id:D}@tocsin";
        message.Headers.Add("X-Tocsin-Event", notification.Type.Name());
        message.Headers.Add("X-Tocsin-Idempotency-Key", notification.IdempotencyKey);
        message.Headers.Add(HeaderId.XMailer, $"Tocsin/{VersionInfo.Version}");
        message.Body = new TextPart("plain") { Text = NotificationText.Body(notification) + "\n" };
        return message;
    }

    /// <inheritdoc />
    public async Task SendAsync(Notification notification, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notification);
        long started = Stopwatch.GetTimestamp();
        string? certificateProblem = null;
        try
        {
            using var message = Message(notification);
            using var client = new SmtpClient();
            if (_options.TrustedCertificates is { } trusted)
            {
                client.CheckCertificateRevocation = false;
                client.ServerCertificateValidationCallback = (_, certificate, chain, errors) =>
                    ValidateAgainst(trusted, certificate, chain, errors, out certificateProblem);
            }

            var socketOptions = _options.Security switch
            {
                SmtpSecurity.Tls => SecureSocketOptions.SslOnConnect,
                SmtpSecurity.None => SecureSocketOptions.None,
                _ => SecureSocketOptions.StartTls,
            };
            await client.ConnectAsync(_options.Host, _options.Port, socketOptions, cancellationToken).ConfigureAwait(false);
            if (_options.Username is { } user)
            {
                await client.AuthenticateAsync(user, _options.Password ?? "", cancellationToken).ConfigureAwait(false);
            }

            await client.SendAsync(message, cancellationToken).ConfigureAwait(false);
            try
            {
                await client.DisconnectAsync(true, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or SocketException or SmtpProtocolException or SmtpCommandException)
            {
                // Accepted already: a failed QUIT does not undo the delivery.
            }

            ChannelLog.Delivered(_logger, this, notification, _target, started);
        }
        catch (Exception ex) when (Classify(ex, certificateProblem) is { } failure)
        {
            ChannelLog.Failed(_logger, this, notification, failure, started);
            throw failure;
        }
    }

    /// <summary>The delivery failure an SMTP exception means, or null for exceptions that are not delivery failures (cancellation, bugs).</summary>
    private NotificationDeliveryException? Classify(Exception ex, string? certificateProblem)
    {
        (string Reason, bool Permanent)? outcome;
        if (ex is SmtpCommandException c)
        {
            int code = (int)c.StatusCode;
            string mailbox = c.Mailbox is { } mb ? " " + mb.Address : "";
            outcome = ($"{(code < 500 ? "refused for now" : "refused")} with {code} ({c.ErrorCode}{mailbox}): {OneLine(c.Message)}", code >= 500);
        }
        else
        {
            outcome = ex switch
            {
                MailKit.Security.AuthenticationException a => ($"authentication as {ConfigObjectReader.Quote(_options.Username ?? "")} refused: {OneLine(a.Message)}", true),
                SslHandshakeException => ($"TLS handshake failed: {certificateProblem ?? "the server's certificate is not trusted or TLS could not be negotiated"}", true),
                ServiceNotAuthenticatedException => ("the server requires authentication: set \"username\" and \"password\"", true),
                NotSupportedException n => (OneLine(n.Message), true),
                SmtpProtocolException p => ($"SMTP protocol error: {OneLine(p.Message)}", false),
                SocketException s => ($"cannot connect ({s.SocketErrorCode})", false),
                ServiceNotConnectedException => ("the connection was lost", false),
                IOException io => ($"connection error: {OneLine(io.Message)}", false),
                TimeoutException => ("timed out", false),
                _ => null,
            };
        }

        return outcome is { } o ? new NotificationDeliveryException(_scrubber.Scrub($"{_who}: {_target}: {o.Reason}"), o.Permanent) : null;
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();

    /// <summary>
    /// Accepts the server's certificate when its name matched and its chain ends at one of <paramref name="trusted"/>
    /// (revocation not checked: private CAs rarely publish lists); else says why in <paramref name="problem"/>.
    /// </summary>
    private static bool ValidateAgainst(X509Certificate2Collection trusted, X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors, out string? problem)
    {
        if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
        {
            problem = "the server sent no certificate";
            return false;
        }

        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            problem = "the server's certificate does not name the configured host";
            return false;
        }

        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        if (chain.Build(leaf))
        {
            problem = null;
            return true;
        }

        problem = "the server's certificate does not chain to caFile (" +
            string.Join(", ", chain.ChainStatus.Select(s => s.Status.ToString()).Distinct(StringComparer.Ordinal)) + ")";
        return false;
    }
}
