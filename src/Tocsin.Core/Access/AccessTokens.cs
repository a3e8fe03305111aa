using System.Security.Cryptography;
using System.Text;

namespace Tocsin.Access;

/// <summary>
/// Bearer tokens for <c>web.auth.tokens[]</c>: a token is 32 random bytes in base64url (43 characters); the
/// configuration keeps only its SHA-256, as 64 hexadecimal digits (<c>tokenSha256</c>).
/// </summary>
public static class AccessTokens
{
    /// <summary>Random bytes in a new token.</summary>
    public const int TokenBytes = 32;

    /// <summary>Makes a new random token.</summary>
    public static string Create() => Base64Url(RandomNumberGenerator.GetBytes(TokenBytes));

    /// <summary>The SHA-256 of <paramref name="token"/>'s UTF-8 bytes (32 bytes).</summary>
    public static byte[] Sha256(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return SHA256.HashData(Encoding.UTF8.GetBytes(token));
    }

    /// <summary>The SHA-256 of <paramref name="token"/> as 64 lowercase hexadecimal digits, as <c>tokenSha256</c> holds it.</summary>
    public static string Sha256Hex(string token) => Convert.ToHexStringLower(Sha256(token));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
