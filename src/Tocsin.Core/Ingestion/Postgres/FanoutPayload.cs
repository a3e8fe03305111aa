using System.Globalization;
using System.Text;

namespace Tocsin.Ingestion.Postgres;

/// <summary>
/// The <c>NOTIFY</c> payloads of <see cref="PostgresNotificationFanout"/>: one publish of <c>identity</c>'s rows becomes one or
/// more chunks <c>"{replica} {sequence} {k}/{n} {ids} {identity}"</c>, where <c>ids</c> lists the row ids ascending as runs
/// (<c>"7-12,15,20-21"</c>) and <c>identity</c> is the rest of the payload. Each chunk is at most <see cref="MaxBytes"/> bytes
/// (PostgreSQL refuses a payload of 8000 bytes or more). The chunks of one publish are sent in one statement, so a listener
/// receives them one after the other.
/// </summary>
internal static class FanoutPayload
{
    /// <summary>Largest payload in UTF-8 bytes.</summary>
    public const int MaxBytes = 7999;

    /// <summary>Longest identity carried, in UTF-8 bytes (validated identities are at most 128 characters).</summary>
    public const int MaxIdentityBytes = 1024;

    /// <summary>Most ids one chunk may name when read (a guard against a malformed run such as <c>1-999999999</c>).</summary>
    public const int MaxIdsPerChunk = 1_000_000;

    // Replica (16), sequence (≤ 19), "k/n" (≤ 21) and the four spaces, rounded up.
    private const int HeaderBytes = 64;

    /// <summary>The chunks announcing <paramref name="ids"/> (any order, duplicates ignored; at least one).</summary>
    /// <exception cref="ArgumentException">When <paramref name="identity"/> is longer than <see cref="MaxIdentityBytes"/>, or
    /// <paramref name="replica"/> holds a space.</exception>
    public static IReadOnlyList<string> Encode(string replica, long sequence, string identity, IEnumerable<long> ids)
    {
        int identityBytes = Encoding.UTF8.GetByteCount(identity);
        if (identityBytes > MaxIdentityBytes)
        {
            throw new ArgumentException($"an identity of {identityBytes} bytes is longer than the {MaxIdentityBytes} a notification carries", nameof(identity));
        }

        if (replica.Length is 0 or > 16 || replica.Contains(' ', StringComparison.Ordinal))
        {
            throw new ArgumentException("a replica id is 1–16 characters without spaces", nameof(replica));
        }

        int budget = MaxBytes - HeaderBytes - identityBytes;
        var runs = new List<StringBuilder> { new() };
        long[] sorted = [.. ids.Distinct().Order()];
        for (int i = 0; i < sorted.Length;)
        {
            int j = i;
            while (j + 1 < sorted.Length && sorted[j + 1] == sorted[j] + 1)
            {
                j++;
            }

            string run = i == j
                ? sorted[i].ToString(CultureInfo.InvariantCulture)
                : string.Create(CultureInfo.InvariantCulture, $"{sorted[i]}-{sorted[j]}");
            var current = runs[^1];
            if (current.Length > 0 && current.Length + 1 + run.Length > budget)
            {
                current = new StringBuilder();
                runs.Add(current);
            }

            current.Append(current.Length > 0 ? "," : "").Append(run);
            i = j + 1;
        }

        return [.. runs.Select((r, k) => string.Create(CultureInfo.InvariantCulture, $"{replica} {sequence} {k + 1}/{runs.Count} {r} {identity}"))];
    }

    /// <summary>Reads a chunk; false for anything that is not one.</summary>
    public static bool TryParse(string payload, out FanoutChunk chunk)
    {
        chunk = default;
        string[] parts = payload.Split(' ', 5);
        if (parts.Length != 5 || parts[0].Length == 0 || parts[4].Length == 0
            || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long sequence))
        {
            return false;
        }

        int slash = parts[2].IndexOf('/', StringComparison.Ordinal);
        if (slash < 0
            || !int.TryParse(parts[2].AsSpan(0, slash), NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            || !int.TryParse(parts[2].AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int count)
            || index < 1 || index > count)
        {
            return false;
        }

        var ids = new List<long>();
        foreach (string run in parts[3].Split(','))
        {
            int dash = run.IndexOf('-', StringComparison.Ordinal);
            if (!long.TryParse(dash < 0 ? run : run[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out long first))
            {
                return false;
            }

            long last = first;
            if (dash >= 0 && (!long.TryParse(run.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out last) || last < first))
            {
                return false;
            }

            if (ids.Count + (last - first) >= MaxIdsPerChunk)
            {
                return false;
            }

            for (long id = first; id <= last; id++)
            {
                ids.Add(id);
            }
        }

        chunk = new FanoutChunk(parts[0], sequence, index, count, parts[4], ids);
        return true;
    }
}

/// <summary>One chunk of a publish, as read.</summary>
/// <param name="Replica">The publishing replica's id.</param>
/// <param name="Sequence">The publish's number on that replica.</param>
/// <param name="Index">This chunk's place, 1 – <paramref name="Count"/>.</param>
/// <param name="Count">The chunks of the publish.</param>
/// <param name="Identity">Whose rows they are.</param>
/// <param name="Ids">The row ids of this chunk, ascending.</param>
internal readonly record struct FanoutChunk(string Replica, long Sequence, int Index, int Count, string Identity, IReadOnlyList<long> Ids);
