using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Tocsin.Checks;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Bench;

/// <summary>
/// The backlog of the drain benchmark: results shaped like real runs (80 % http, 20 % tcp, ~3 % not OK,
/// details JSON with the fields the runners write), written through the real <see cref="SqliteOutbox.WriteBatch"/>;
/// and the same rows as a PostgreSQL binary COPY file, for <c>psql \copy</c>.
/// </summary>
internal static class DrainData
{
    /// <summary>Checks the rows are spread over, named like the scheduled-load benchmark's.</summary>
    public const int Checks = 10_000;

    /// <summary>
    /// Writes <paramref name="rows"/> results into <paramref name="outbox"/> in batches of 2,000 (the writer's batch),
    /// started evenly over <paramref name="span"/> before <paramref name="end"/>, check after check as a scheduler runs them.
    /// </summary>
    public static void Fill(SqliteOutbox outbox, int rows, DateTimeOffset end, TimeSpan span, Action<int>? progress = null)
    {
        var batch = new List<CheckResult>(2_000);
        var start = end - span;
        for (int i = 0; i < rows; i++)
        {
            var started = start + (span * i / rows);
            batch.Add(Result(i, started));
            if (batch.Count == batch.Capacity || i == rows - 1)
            {
                outbox.WriteBatch(batch);
                batch.Clear();
                progress?.Invoke(i + 1);
            }
        }
    }

    /// <summary>One realistic result of run <paramref name="i"/>; deterministic, so every fill holds the same data.</summary>
    public static CheckResult Result(int i, DateTimeOffset started)
    {
        int check = i % Checks;
        uint h = Hash((uint)i);
        bool tcp = check % 5 == 4;
        int roll = (int)(h % 1000);
        var state = roll < 970 ? CheckState.OK : roll < 985 ? CheckState.CRITICAL : roll < 995 ? CheckState.WARNING : CheckState.UNKNOWN;
        return Shaped($"bench-{check:D6}", check, tcp, state, h, started);
    }

    /// <summary>
    /// A result of check number <paramref name="check"/> named <paramref name="name"/> in <paramref name="state"/>, with the
    /// message and details JSON the http or tcp runner writes; <paramref name="h"/> (a hash) varies timings and wording.
    /// </summary>
    public static CheckResult Shaped(string name, int check, bool tcp, CheckState state, uint h, DateTimeOffset started)
    {
        int roll = (int)(h % 1000);
        double connect = Math.Round(0.05 + ((h >> 10) % 5000 / 1000.0), 3);
        double total = Math.Round(connect + 0.4 + ((h >> 4) % 80_000 / 1000.0), 3);
        string address = $"10.{check / 2500}.{check / 10 % 250}.{check % 250 + 1}";
        var details = new JsonObject();
        string message;
        int? code = null;
        if (tcp)
        {
            details["dnsMs"] = Math.Round((h >> 7) % 900 / 1000.0, 3);
            details["connectMs"] = connect;
            details["remoteAddress"] = address;
            message = state == CheckState.OK
                ? string.Create(CultureInfo.InvariantCulture, $"connected to db-{check:D5}.example.internal:5432 in {Math.Round(connect, 1)} ms")
                : $"connect to db-{check:D5}.example.internal:5432 failed: ConnectionRefused";
        }
        else
        {
            details["remoteAddress"] = address;
            details["dnsMs"] = Math.Round((h >> 7) % 900 / 1000.0, 3);
            details["connectMs"] = connect;
            if (check % 3 == 0)
            {
                details["tlsMs"] = Math.Round(connect * 3.1, 3);
                details["tlsDaysToExpiry"] = 41.37 + (check % 50);
                details["tlsNotAfter"] = "2027-01-03T12:00:00.0000000+00:00";
            }

            if (state == CheckState.CRITICAL && roll % 2 == 0)
            {
                details["error"] = "ConnectionError";
                message = "connection refused (ConnectionRefused)";
            }
            else
            {
                code = state == CheckState.CRITICAL ? 503 : 200;
                details["ttfbMs"] = Math.Round(total * 0.9, 3);
                details["totalMs"] = total;
                details["bodyBytes"] = 612 + (check % 40_000);
                details["httpVersion"] = "1.1";
                message = state switch
                {
                    CheckState.OK => string.Create(CultureInfo.InvariantCulture, $"status {code} in {Math.Round(total)} ms"),
                    CheckState.WARNING => string.Create(CultureInfo.InvariantCulture, $"took {Math.Round(total)} ms, more than expect.maxDuration 50ms"),
                    _ => $"status {code}, expected 200-399",
                };
            }
        }

        if (state == CheckState.UNKNOWN)
        {
            message = "runner failed: InvalidOperationException: the check could not run";
            details = new JsonObject { ["exception"] = "System.InvalidOperationException" };
            code = null;
        }

        return new CheckResult(
            Guid.CreateVersion7(started), name, tcp ? "tcp" : "http", state, started.AddMilliseconds(-((h >> 3) % 3)), started,
            started.AddMilliseconds(total), total, code, message, details);
    }

    /// <summary>A cheap integer hash (deterministic data).</summary>
    public static uint Hash(uint x)
    {
        x ^= x >> 16;
        x *= 0x7feb352d;
        x ^= x >> 15;
        x *= 0x846ca68b;
        x ^= x >> 16;
        return x;
    }

    /// <summary>The columns of <c>tocsin.results</c>, in the order of the COPY file.</summary>
    public const string CopyColumns = "id, agent_id, check_name, kind, state, scheduled_at, started_at, finished_at, duration_ms, status_code, message, details";

    /// <summary>
    /// Writes every row of the outbox at <paramref name="dbPath"/> (by id) as a PostgreSQL binary COPY file with
    /// <see cref="CopyColumns"/>, the rows exactly as the exporter sends them. Returns the rows written.
    /// </summary>
    public static long WriteBinaryCopyFile(string dbPath, Guid agentId, string file)
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = dbPath, Mode = SqliteOpenMode.ReadOnly }.ToString());
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT id, check_name, kind, state, scheduled_at, started_at, finished_at, duration_ms, status_code, message, details FROM results ORDER BY id;";
        using var reader = cmd.ExecuteReader();
        using var fs = new FileStream(file, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        using var w = new BinaryWriter(fs);
        w.Write([(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0]);
        w.Write(0); // flags
        w.Write(0); // header extension length
        byte[] buf = new byte[16];
        long n = 0;
        var pgEpochMs = new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        void I16(short v) { BinaryPrimitives.WriteInt16BigEndian(buf, v); w.Write(buf, 0, 2); }
        void I32(int v) { BinaryPrimitives.WriteInt32BigEndian(buf, v); w.Write(buf, 0, 4); }
        void I64(long v) { BinaryPrimitives.WriteInt64BigEndian(buf, v); w.Write(buf, 0, 8); }
        void Uuid(Guid g) { I32(16); g.TryWriteBytes(buf, bigEndian: true, out _); w.Write(buf, 0, 16); }
        void Time(long unixMs) { I32(8); I64((unixMs - pgEpochMs) * 1000); }
        void Text(string s, bool jsonb = false)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(s);
            I32(bytes.Length + (jsonb ? 1 : 0));
            if (jsonb)
            {
                w.Write((byte)1);
            }

            w.Write(bytes);
        }

        while (reader.Read())
        {
            I16(12);
            Uuid(Guid.Parse(reader.GetString(0)));
            Uuid(agentId);
            Text(reader.GetString(1));
            Text(reader.GetString(2));
            I32(2);
            I16((short)reader.GetInt32(3));
            Time(reader.GetInt64(4));
            Time(reader.GetInt64(5));
            Time(reader.GetInt64(6));
            I32(8);
            I64(BitConverter.DoubleToInt64Bits(reader.GetDouble(7)));
            if (reader.IsDBNull(8))
            {
                I32(-1);
            }
            else
            {
                I32(4);
                I32(reader.GetInt32(8));
            }

            Text(reader.GetString(9));
            if (reader.IsDBNull(10))
            {
                I32(-1);
            }
            else
            {
                Text(reader.GetString(10), jsonb: true);
            }

            n++;
        }

        I16(-1);
        return n;
    }
}
