using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;

namespace Tocsin.Checks.Heartbeat;

/// <summary>
/// Finds the heartbeat check a ping's token names: a map keyed by the SHA-256 of each check's token (built once per
/// <see cref="CheckCatalogSnapshot"/>), then a constant-time comparison of the digests. Every wrong token, whatever its
/// length or characters, takes the same path (hash, miss), so answers and timings say nothing about the configured tokens.
/// </summary>
public static class HeartbeatTokens
{
    private static readonly ConditionalWeakTable<CheckCatalogSnapshot, Dictionary<string, (CheckDefinition Check, byte[] Digest)>> Indexes = new();

    /// <summary>The heartbeat check of <paramref name="snapshot"/> whose token is <paramref name="token"/>, or null.</summary>
    public static CheckDefinition? Find(CheckCatalogSnapshot snapshot, string token)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(token);
        var index = Indexes.GetValue(snapshot, Build);
        byte[] digest = Digest(token);
        return index.TryGetValue(Convert.ToHexString(digest), out var entry) && CryptographicOperations.FixedTimeEquals(digest, entry.Digest)
            ? entry.Check
            : null;
    }

    private static Dictionary<string, (CheckDefinition Check, byte[] Digest)> Build(CheckCatalogSnapshot snapshot)
    {
        var index = new Dictionary<string, (CheckDefinition, byte[])>(StringComparer.Ordinal);
        foreach (var check in snapshot.Checks)
        {
            if (check.Options is HeartbeatCheckOptions { Token.Length: > 0 } o)
            {
                byte[] digest = Digest(o.Token);
                index.TryAdd(Convert.ToHexString(digest), (check, digest));
            }
        }

        return index;
    }

    private static byte[] Digest(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));
}
