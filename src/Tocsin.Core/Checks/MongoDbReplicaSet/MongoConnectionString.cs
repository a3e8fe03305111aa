using System.Text.RegularExpressions;
using MongoDB.Driver;
using Tocsin.Configuration;

namespace Tocsin.Checks.MongoDbReplicaSet;

/// <summary>
/// A MongoDB connection string (<c>mongodb://[user:password@]host1[:port1][,host2…]/[authDb][?options]</c>, or
/// <c>mongodb+srv://…</c>) that never shows its secrets: <see cref="ToString"/> and <see cref="Redacted"/> replace the password
/// (and the values of <c>authMechanismProperties</c>, <c>tlsCertificateKeyFilePassword</c>, <c>sslPEMKeyPassword</c>) with
/// <c>***</c>; <see cref="Scrub"/> removes them from any text (a driver's exception message, say). The full string is only
/// available inside Tocsin.Core, to the driver.
/// </summary>
public sealed partial class MongoConnectionString
{
    [GeneratedRegex(@"^(?<scheme>mongodb(?:\+srv)?://)(?:(?<user>[^:@/]*)(?::(?<password>[^@/]*))?@)?(?<rest>.*)$", RegexOptions.CultureInvariant | RegexOptions.Singleline)]
    private static partial Regex Shape();

    [GeneratedRegex(@"(?i)(?<=[?&](?:authMechanismProperties|tlsCertificateKeyFilePassword|sslPEMKeyPassword)=)[^&]*", RegexOptions.CultureInvariant)]
    private static partial Regex SecretOptions();

    /// <summary>Passwords shorter than this are not searched for as plain text by <see cref="Scrub"/> (a 2-letter search would
    /// garble every message); they are still removed wherever they appear inside a URI.</summary>
    private const int MinScrubbedLength = 4;

    private readonly string? _password;

    private MongoConnectionString(string value, MongoUrl url, string redacted, string? password)
    {
        Value = value;
        Url = url;
        Redacted = redacted;
        _password = password;
    }

    /// <summary>The connection string as configured, password included: for the driver only.</summary>
    internal string Value { get; }

    /// <summary>The driver's parse of it (its <c>ToString</c> shows the password: never print it).</summary>
    internal MongoUrl Url { get; }

    /// <summary>The connection string with the password as <c>***</c>, e.g. <c>mongodb://tocsin:***@db1:27017,db2:27017/?replicaSet=rs0</c>.</summary>
    public string Redacted { get; }

    /// <summary>The seed hosts as <c>host:port</c>, in the order written.</summary>
    public IReadOnlyList<string> Hosts => [.. Url.Servers.Select(s => s.ToString())];

    /// <summary>The user name given in the URI, or null.</summary>
    public string? User => Url.Username;

    /// <summary>The <c>replicaSet</c> option of the URI, or null.</summary>
    public string? ReplicaSet => Url.ReplicaSetName;

    /// <summary>Parses <paramref name="value"/>; on failure <paramref name="problem"/> says why, without the password.</summary>
    public static bool TryParse(string value, out MongoConnectionString? connection, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(value);
        connection = null;
        var shape = Shape().Match(value);
        if (!shape.Success)
        {
            int scheme = value.IndexOf("://", StringComparison.Ordinal);
            problem = scheme > 0 && scheme <= 20 && !value[..scheme].Contains('@', StringComparison.Ordinal)
                ? $"must be a mongodb:// or mongodb+srv:// URI, not {value[..scheme]}://, e.g. mongodb://monitor:secret@db1:27017,db2:27017/?replicaSet=rs0"
                : "must be a mongodb:// or mongodb+srv:// URI, e.g. mongodb://monitor:secret@db1:27017,db2:27017/?replicaSet=rs0";
            return false;
        }

        string? password = shape.Groups["password"].Success ? shape.Groups["password"].Value : null;
        string user = shape.Groups["user"].Success ? shape.Groups["user"].Value + (password is null ? "" : ":" + Secrets.Mask) + "@" : "";
        string redacted = shape.Groups["scheme"].Value + user + SecretOptions().Replace(shape.Groups["rest"].Value, Secrets.Mask);
        string? decoded = password is null ? null : Uri.UnescapeDataString(password);
        MongoUrl url;
        try
        {
            url = MongoUrl.Create(value);
        }
        catch (Exception ex) when (ex is MongoConfigurationException or ArgumentException or FormatException or UriFormatException)
        {
            problem = $"is not a valid MongoDB connection string: {ScrubText(ex.Message, value, redacted, password, decoded)}";
            return false;
        }

        if (url.Servers is null || !url.Servers.Any())
        {
            problem = "names no host";
            return false;
        }

        connection = new MongoConnectionString(value, url, redacted, decoded);
        problem = null;
        return true;
    }

    /// <summary>
    /// <paramref name="text"/> without this connection string's secrets: the full string is replaced by <see cref="Redacted"/>,
    /// the password in any <c>scheme://user:password@</c> form and (when 4 characters or longer) anywhere else by <c>***</c>.
    /// </summary>
    public string Scrub(string text) => ScrubText(text, Value, Redacted, _password is null ? null : Uri.EscapeDataString(_password), _password);

    /// <summary>The redacted form.</summary>
    public override string ToString() => Redacted;

    private static string ScrubText(string text, string value, string redacted, string? password, string? decoded)
    {
        string s = text.Replace(value, redacted, StringComparison.Ordinal);
        s = Secrets.RedactConnectionString(s);
        foreach (string? secret in new[] { password, decoded })
        {
            if (secret is { Length: >= MinScrubbedLength })
            {
                s = s.Replace(secret, Secrets.Mask, StringComparison.Ordinal);
            }
        }

        return SecretOptions().Replace(s, Secrets.Mask);
    }
}
