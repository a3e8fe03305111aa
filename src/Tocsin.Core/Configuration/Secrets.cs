using System.Text.RegularExpressions;

namespace Tocsin.Configuration;

/// <summary>Hides secrets before text reaches a log line, an API answer or the terminal.</summary>
public static partial class Secrets
{
    /// <summary>What a hidden secret is replaced with.</summary>
    public const string Mask = "***";

    [GeneratedRegex(@"(?<=://[^:/@\s]*:)[^@\s]*(?=@)", RegexOptions.CultureInvariant)]
    private static partial Regex UriPassword();

    [GeneratedRegex(@"(?i)(?<=\b(password|pwd)\s*=\s*)('[^']*'|[^;\s]+)", RegexOptions.CultureInvariant)]
    private static partial Regex KeyValuePassword();

    /// <summary>
    /// Replaces the password of a PostgreSQL URI (<c>postgresql://user:secret@host/db</c>) or key=value
    /// string (<c>Password=secret;</c>) with <see cref="Mask"/>.
    /// </summary>
    public static string RedactConnectionString(string connection) =>
        KeyValuePassword().Replace(UriPassword().Replace(connection, Mask), Mask);
}
