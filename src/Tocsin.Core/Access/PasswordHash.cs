using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Tocsin.Access;

/// <summary>
/// Password hashes for <c>web.auth.users[].passwordHash</c>: PBKDF2 with HMAC-SHA-256, in the self-describing form
/// <c>pbkdf2-sha256$ITERATIONS$SALT$HASH</c>, where ITERATIONS is a decimal integer (at least
/// <see cref="MinIterations"/>), SALT is standard base64 of at least 16 random bytes and HASH standard base64 of the
/// 32-byte derived key. Example: <c>pbkdf2-sha256$600000$3q2+7wAAAAAAAAAAAAAAAA==$…</c>.
/// Made by <c>tocsin auth hash</c>; <see cref="Verify"/> compares in constant time.
/// </summary>
public sealed class PasswordHash
{
    /// <summary>The algorithm name, first field of the format.</summary>
    public const string Algorithm = "pbkdf2-sha256";

    /// <summary>Fewest iterations accepted (OWASP's 2023 advice for PBKDF2-HMAC-SHA256).</summary>
    public const int MinIterations = 600_000;

    /// <summary>Most iterations accepted: a verification must stay well under a second.</summary>
    public const int MaxIterations = 10_000_000;

    /// <summary>Salt size made by <see cref="Create"/>, in bytes.</summary>
    public const int SaltBytes = 16;

    /// <summary>Derived key size, in bytes.</summary>
    public const int HashBytes = 32;

    private readonly byte[] _salt;
    private readonly byte[] _hash;

    private PasswordHash(int iterations, byte[] salt, byte[] hash)
    {
        Iterations = iterations;
        _salt = salt;
        _hash = hash;
    }

    /// <summary>PBKDF2 iterations.</summary>
    public int Iterations { get; }

    /// <summary>Hashes <paramref name="password"/> with a new random salt and <paramref name="iterations"/> (default <see cref="MinIterations"/>).</summary>
    public static string Create(string password, int iterations = MinIterations)
    {
        ArgumentNullException.ThrowIfNull(password);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, MinIterations);
        byte[] salt = RandomNumberGenerator.GetBytes(SaltBytes);
        byte[] hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, HashBytes);
        return string.Create(CultureInfo.InvariantCulture, $"{Algorithm}${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}");
    }

    /// <summary>Parses the format above; on failure returns null and a reason that never repeats the hash.</summary>
    public static PasswordHash? TryParse(string text, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Split('$');
        if (parts.Length != 4 || parts[0] != Algorithm)
        {
            problem = $"unknown hash format; expected {Algorithm}$ITERATIONS$SALT$HASH as printed by `tocsin auth hash`";
            return null;
        }

        if (!int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int iterations) || iterations < MinIterations || iterations > MaxIterations)
        {
            problem = $"iterations must be an integer from {MinIterations} to {MaxIterations}";
            return null;
        }

        byte[] salt, hash;
        try
        {
            salt = Convert.FromBase64String(parts[2]);
            hash = Convert.FromBase64String(parts[3]);
        }
        catch (FormatException)
        {
            problem = "salt and hash must be base64";
            return null;
        }

        if (salt.Length < SaltBytes || hash.Length != HashBytes)
        {
            problem = $"salt must be at least {SaltBytes} bytes and hash {HashBytes} bytes";
            return null;
        }

        problem = null;
        return new PasswordHash(iterations, salt, hash);
    }

    /// <summary>Whether <paramref name="password"/> derives this hash (constant-time comparison; costs <see cref="Iterations"/> HMAC rounds).</summary>
    public bool Verify(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        byte[] derived = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), _salt, Iterations, HashAlgorithmName.SHA256, HashBytes);
        return CryptographicOperations.FixedTimeEquals(derived, _hash);
    }
}
