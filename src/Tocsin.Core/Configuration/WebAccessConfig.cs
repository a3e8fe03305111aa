using System.Text.Json;
using Tocsin.Access;

namespace Tocsin.Configuration;

/// <summary>
/// Who may use the write endpoints and the private area (config <c>web.auth</c>):
/// <c>{"tokens": [{"name": "ops", "tokenSha256": "&lt;64 hex&gt;"}], "users": [{"name": "admin", "passwordHash": "pbkdf2-sha256$…"}]}</c>.
/// Only hashes are kept (<see cref="AccessTokens"/>, <see cref="PasswordHash"/>).
/// </summary>
public sealed record WebAuthConfig
{
    /// <summary>Bearer tokens by name, each with the SHA-256 of the token (32 bytes).</summary>
    public IReadOnlyList<WebToken> Tokens { get; init; } = [];

    /// <summary>HTTP Basic users.</summary>
    public IReadOnlyList<WebUser> Users { get; init; } = [];

    /// <summary>Whether any credential is configured; when false, nothing requires credentials.</summary>
    public bool IsConfigured => Tokens.Count > 0 || Users.Count > 0;
}

/// <summary>A named bearer token, kept as the SHA-256 of the token.</summary>
/// <param name="Name">A label for logs and <c>/private/whoami</c>.</param>
/// <param name="Sha256">SHA-256 of the token's UTF-8 bytes, 32 bytes.</param>
public sealed record WebToken(string Name, byte[] Sha256);

/// <summary>A user of HTTP Basic authentication, kept as a password hash.</summary>
/// <param name="Name">User name as typed in Basic credentials (compared exactly).</param>
/// <param name="PasswordHash">The parsed hash.</param>
public sealed record WebUser(string Name, PasswordHash PasswordHash);

/// <summary>Reads the web fields added for access and SlapOS compatibility: <c>auth</c>, <c>relatedMonitors</c>, <c>title</c>.</summary>
public static class WebAccessConfigReader
{
    /// <summary>
    /// Reads <c>web.auth</c>; every problem (a hash that is not 64 hexadecimal digits, an unknown password hash
    /// format, a duplicate name, a missing field) is recorded on <paramref name="web"/> and never repeats a hash.
    /// </summary>
    public static WebAuthConfig ReadAuth(ConfigObjectReader web)
    {
        ArgumentNullException.ThrowIfNull(web);
        var auth = web.Object("auth");
        if (auth is null)
        {
            return new WebAuthConfig();
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        var tokens = new List<WebToken>();
        foreach (var (item, field) in Items(auth, "tokens"))
        {
            string? name = ReadName(auth, item, field, names);
            string? hex = item.TryGetProperty("tokenSha256", out var h) && h.ValueKind == JsonValueKind.String ? h.GetString() : null;
            if (hex is null || hex.Length != 64 || !hex.All(char.IsAsciiHexDigit))
            {
                auth.Error(field + ".tokenSha256", hex is null ? null : $"({hex.Length} characters)", "must be the token's SHA-256 as 64 hexadecimal digits, as printed by `tocsin auth hash --token`");
            }
            else if (name is not null)
            {
                tokens.Add(new WebToken(name, Convert.FromHexString(hex)));
            }

            RejectOthers(auth, item, field, "name", "tokenSha256");
        }

        var users = new List<WebUser>();
        foreach (var (item, field) in Items(auth, "users"))
        {
            string? name = ReadName(auth, item, field, names);
            if (name is not null && name.Contains(':', StringComparison.Ordinal))
            {
                auth.Error(field + ".name", ConfigObjectReader.Quote(name), "a user name cannot contain ':' (HTTP Basic separates name and password with it)");
            }

            string? text = item.TryGetProperty("passwordHash", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
            PasswordHash? hash = null;
            string? problem = "is required: a hash printed by `tocsin auth hash`";
            if (text is not null)
            {
                hash = PasswordHash.TryParse(text, out problem);
            }

            if (hash is null)
            {
                auth.Error(field + ".passwordHash", null, problem!);
            }
            else if (name is not null)
            {
                users.Add(new WebUser(name, hash));
            }

            RejectOthers(auth, item, field, "name", "passwordHash");
        }

        auth.RejectUnknownFields();
        return new WebAuthConfig { Tokens = tokens, Users = users };
    }

    /// <summary>Reads <c>web.relatedMonitors</c>: absolute http(s) URLs of other monitors, for <c>monitor.haljson</c>.</summary>
    public static IReadOnlyList<Uri> ReadRelatedMonitors(ConfigObjectReader web)
    {
        ArgumentNullException.ThrowIfNull(web);
        var list = new List<Uri>();
        foreach (string u in web.StringList("relatedMonitors") ?? [])
        {
            if (Uri.TryCreate(u, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Host.Length > 0)
            {
                list.Add(uri);
            }
            else
            {
                web.Error("relatedMonitors", ConfigObjectReader.Quote(u), "each must be an absolute http:// or https:// URL, e.g. https://monitor.example.org/");
            }
        }

        return list;
    }

    private static IEnumerable<(JsonElement Item, string Field)> Items(ConfigObjectReader auth, string field)
    {
        var raw = auth.Raw(field);
        if (raw is null)
        {
            yield break;
        }

        if (raw.Value.ValueKind != JsonValueKind.Array)
        {
            auth.Error(field, null, "must be an array of objects");
            yield break;
        }

        int i = 0;
        foreach (var item in raw.Value.EnumerateArray())
        {
            string at = $"{field}[{i++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                auth.Error(at, null, "must be an object");
                continue;
            }

            yield return (item, at);
        }
    }

    private static string? ReadName(ConfigObjectReader auth, JsonElement item, string field, HashSet<string> names)
    {
        string? name = item.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
        if (string.IsNullOrWhiteSpace(name) || name.Length > 100 || name.Any(char.IsControl))
        {
            auth.Error(field + ".name", name is null ? null : ConfigObjectReader.Quote(name), "is required: 1 to 100 characters without control characters");
            return null;
        }

        if (!names.Add(name))
        {
            auth.Error(field + ".name", ConfigObjectReader.Quote(name), "duplicate name: token and user names must be unique");
            return null;
        }

        return name;
    }

    private static void RejectOthers(ConfigObjectReader auth, JsonElement item, string field, params string[] allowed)
    {
        foreach (var p in item.EnumerateObject())
        {
            if (!allowed.Contains(p.Name, StringComparer.Ordinal))
            {
                auth.Error($"{field}.{p.Name}", null, $"unknown field; allowed: {string.Join(", ", allowed)}");
            }
        }
    }
}
