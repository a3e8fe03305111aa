using System.Globalization;
using Npgsql;

namespace Tocsin.Storage.Postgres;

/// <summary>
/// Turns <c>externalDatabaseUri</c> into an Npgsql connection string. Accepts the libpq URI form
/// (<c>postgresql://user:password@host:port/database?sslmode=require</c>, also <c>postgres://</c>, several
/// hosts as <c>h1:5432,h2:5433</c>, IPv6 in brackets, percent-encoded parts) and Npgsql's key=value form
/// (<c>Host=h;Username=u;Database=d</c>). Error messages never contain the password or the input.
/// </summary>
public static class PostgresConnectionString
{
    /// <summary>Environment variable a password may come from when the URI has none.</summary>
    public const string PasswordVariable = "TOCSIN_PG_PASSWORD";

    /// <summary>Default PostgreSQL port.</summary>
    public const int DefaultPort = 5432;

    /// <summary>Converts a URI or key=value string to an Npgsql connection string.</summary>
    /// <exception cref="FormatException">When it is neither, or a part is invalid (the message says which, without values that may be secret).</exception>
    public static string ToNpgsql(string uriOrKeyValue)
    {
        ArgumentNullException.ThrowIfNull(uriOrKeyValue);
        string text = uriOrKeyValue.Trim();
        if (text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase))
        {
            return FromUri(text).ConnectionString;
        }

        if (text.Contains("://", StringComparison.Ordinal))
        {
            throw new FormatException("the URI scheme must be postgresql:// or postgres://");
        }

        try
        {
            var b = new NpgsqlConnectionStringBuilder(text);
            if (string.IsNullOrEmpty(b.Host))
            {
                throw new FormatException("the key=value form needs Host=…");
            }

            return b.ConnectionString;
        }
        catch (ArgumentException ex)
        {
            // Npgsql names the unknown key, never a value.
            throw new FormatException("is neither a postgresql:// URI nor a valid key=value connection string: " + ex.Message.Split('\n')[0], ex);
        }
    }

    /// <summary>
    /// The connection string to use: <paramref name="uriOrKeyValue"/> converted; when it has no password, the
    /// password from <paramref name="passwordFile"/> (first line) if given, else from <c>TOCSIN_PG_PASSWORD</c>.
    /// </summary>
    /// <exception cref="FormatException">When the string is invalid.</exception>
    /// <exception cref="IOException">When the password file cannot be read.</exception>
    public static string Resolve(string uriOrKeyValue, string? passwordFile, Func<string, string?>? environment = null)
    {
        var b = new NpgsqlConnectionStringBuilder(ToNpgsql(uriOrKeyValue));
        var (password, source) = FindPassword(b, passwordFile, environment ?? Environment.GetEnvironmentVariable);
        if (source is not PasswordSource.Uri and not PasswordSource.None)
        {
            b.Password = password;
        }

        return b.ConnectionString;
    }

    /// <summary>
    /// Where <see cref="Resolve"/> takes the password from, in its order: the URI, else
    /// <paramref name="passwordFile"/>'s first line, else <c>TOCSIN_PG_PASSWORD</c> of <paramref name="environment"/>
    /// (default: this process's), else none. Never returns the password itself.
    /// </summary>
    /// <exception cref="FormatException">When the string is invalid.</exception>
    /// <exception cref="IOException">When the password file cannot be read.</exception>
    public static PasswordSource FindPasswordSource(string uriOrKeyValue, string? passwordFile, Func<string, string?>? environment = null) =>
        FindPassword(new NpgsqlConnectionStringBuilder(ToNpgsql(uriOrKeyValue)), passwordFile, environment ?? Environment.GetEnvironmentVariable).Source;

    private static (string? Password, PasswordSource Source) FindPassword(NpgsqlConnectionStringBuilder b, string? passwordFile, Func<string, string?> environment)
    {
        if (!string.IsNullOrEmpty(b.Password))
        {
            return (b.Password, PasswordSource.Uri);
        }

        string? fromFile = passwordFile is null ? null : File.ReadLines(passwordFile).FirstOrDefault()?.TrimEnd('\r', '\n');
        if (fromFile is not null)
        {
            return (fromFile, fromFile.Length > 0 ? PasswordSource.File : PasswordSource.None);
        }

        string? fromEnvironment = environment(PasswordVariable);
        return string.IsNullOrEmpty(fromEnvironment) ? (null, PasswordSource.None) : (fromEnvironment, PasswordSource.Environment);
    }

    private static NpgsqlConnectionStringBuilder FromUri(string text)
    {
        int schemeEnd = text.IndexOf("://", StringComparison.Ordinal) + 3;
        string rest = text[schemeEnd..];
        string? query = null;
        int q = rest.IndexOf('?', StringComparison.Ordinal);
        if (q >= 0)
        {
            query = rest[(q + 1)..];
            rest = rest[..q];
        }

        if ((query ?? rest).Contains('#', StringComparison.Ordinal))
        {
            throw new FormatException("the URI must not have a #fragment");
        }

        string? path = null;
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            path = rest[(slash + 1)..];
            rest = rest[..slash];
        }

        var b = new NpgsqlConnectionStringBuilder();
        int at = rest.LastIndexOf('@');
        if (at >= 0)
        {
            string userInfo = rest[..at];
            rest = rest[(at + 1)..];
            int colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            string user = colon >= 0 ? userInfo[..colon] : userInfo;
            if (user.Length > 0)
            {
                b.Username = Decode(user, "user name");
            }

            if (colon >= 0)
            {
                b.Password = Decode(userInfo[(colon + 1)..], "password");
            }
        }

        var hosts = new List<string>();
        int? singlePort = null;
        foreach (string part in rest.Split(',', StringSplitOptions.None))
        {
            var (host, port) = SplitHostPort(part);
            if (host.Length == 0)
            {
                if (rest.Length == 0)
                {
                    continue;
                }

                throw new FormatException("the URI has an empty host");
            }

            hosts.Add(port is { } p ? $"{host}:{p.ToString(CultureInfo.InvariantCulture)}" : host);
            singlePort ??= port;
        }

        if (hosts.Count == 0)
        {
            throw new FormatException("the URI needs a host, e.g. postgresql://user@db.example.org:5432/tocsin");
        }

        if (hosts.Count == 1)
        {
            var (host, port) = SplitHostPort(rest);
            b.Host = host;
            b.Port = port ?? DefaultPort;
        }
        else
        {
            b.Host = string.Join(',', hosts);
        }

        if (!string.IsNullOrEmpty(path))
        {
            b.Database = Decode(path, "database name");
        }

        if (query is not null)
        {
            foreach (string pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = pair.IndexOf('=', StringComparison.Ordinal);
                string key = Decode(eq >= 0 ? pair[..eq] : pair, "parameter name");
                string value = eq >= 0 ? Decode(pair[(eq + 1)..], "parameter " + key) : "";
                ApplyParameter(b, key, value);
            }
        }

        return b;
    }

    private static void ApplyParameter(NpgsqlConnectionStringBuilder b, string key, string value)
    {
        switch (key)
        {
            case "sslmode":
                b.SslMode = value switch
                {
                    "disable" => SslMode.Disable,
                    "allow" => SslMode.Allow,
                    "prefer" => SslMode.Prefer,
                    "require" => SslMode.Require,
                    "verify-ca" => SslMode.VerifyCA,
                    "verify-full" => SslMode.VerifyFull,
                    _ => throw new FormatException($"sslmode \"{value}\" is not one of disable, allow, prefer, require, verify-ca, verify-full"),
                };
                break;
            case "sslrootcert":
                b.RootCertificate = value;
                break;
            case "sslcert":
                b.SslCertificate = value;
                break;
            case "sslkey":
                b.SslKey = value;
                break;
            case "application_name":
                b.ApplicationName = value;
                break;
            case "connect_timeout":
                b.Timeout = ParseInt(key, value, 0, 1024);
                break;
            case "target_session_attrs":
                b.TargetSessionAttributes = value;
                break;
            case "options":
                b.Options = value;
                break;
            case "user":
                b.Username = value;
                break;
            case "dbname":
                b.Database = value;
                break;
            case "port":
                b.Port = ParseInt(key, value, 1, 65535);
                break;
            case "host":
                b.Host = value;
                break;
            case "password":
                b.Password = value;
                break;
            default:
                throw new FormatException(
                    $"unknown URI parameter \"{key}\"; allowed: sslmode, sslrootcert, sslcert, sslkey, application_name, connect_timeout, target_session_attrs, options, user, dbname, host, port, password");
        }
    }

    private static (string Host, int? Port) SplitHostPort(string part)
    {
        string host = part;
        string? port = null;
        if (part.StartsWith('['))
        {
            int close = part.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new FormatException("the URI has an IPv6 host without its closing ]");
            }

            host = part[1..close];
            string after = part[(close + 1)..];
            if (after.Length > 0)
            {
                port = after.StartsWith(':') ? after[1..] : throw new FormatException("the URI has text after an IPv6 host");
            }
        }
        else
        {
            int colon = part.LastIndexOf(':');
            if (colon >= 0)
            {
                host = part[..colon];
                port = part[(colon + 1)..];
            }
        }

        host = Decode(host, "host");
        return (host, port is null || port.Length == 0 ? null : ParseInt("port", port, 1, 65535));
    }

    private static int ParseInt(string name, string value, int min, int max) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= min && n <= max
            ? n
            : throw new FormatException($"{name} must be a whole number from {min} to {max}");

    private static string Decode(string s, string what)
    {
        try
        {
            return Uri.UnescapeDataString(s);
        }
        catch (UriFormatException)
        {
            throw new FormatException($"the URI's {what} is not validly percent-encoded");
        }
    }
}

/// <summary>Where the central database's password comes from (see <see cref="PostgresConnectionString.FindPasswordSource"/>).</summary>
public enum PasswordSource
{
    /// <summary>No password: the server must not ask for one (trust, peer, certificate) or the login fails.</summary>
    None,
    /// <summary>The password part of <c>externalDatabaseUri</c> (or its <c>Password=</c> key).</summary>
    Uri,
    /// <summary>The first line of <c>externalDatabasePasswordFile</c>.</summary>
    File,
    /// <summary>The <c>TOCSIN_PG_PASSWORD</c> environment variable.</summary>
    Environment,
}
