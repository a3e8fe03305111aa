using System.Globalization;
using System.Text;
using System.Text.Json;
using Tocsin.Checks;
using Tocsin.State;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Bench;

/// <summary>
/// The checks of the web benchmark (issue 5) and their history: one catalogue, so the configuration <c>tocsin start</c>
/// runs and the seeded outbox name the same checks. Check <c>i</c> of N:
/// <list type="bullet">
/// <item>name <c>{service}-{env}-{i:D5}</c>, tags <c>[service, env]</c> from 12 services and 8 environments (20 tags);</item>
/// <item>kind <c>tcp</c> when <c>i % 5 == 4</c>, else <c>http</c> (a GET of the private nginx);</item>
/// <item><c>"public": true</c> when <c>i % 200 == 0</c> (50 of 10,000);</item>
/// <item>failing (tcp or http to a closed loopback port: CRITICAL, connection refused) when <c>i % 50 == 7</c> (2 %);
/// in the seeded history these fail for their last 1–40 runs too, so they arrive with an open incident.</item>
/// </list>
/// The history: results spread evenly over the span, each check at its own phase, in time order; about 1.5 % single
/// non-OK results (WARNING, CRITICAL, UNKNOWN) and outages of 1–6 CRITICAL runs in a row (5 % of blocks of 25 runs), so
/// with <see cref="Thresholds"/> there are incidents and state changes as in real life.
/// </summary>
internal static class WebData
{
    /// <summary>Bump when anything below changes what is seeded: the cached outbox is keyed by it.</summary>
    public const int SeedVersion = 1;

    public static readonly string[] Services = ["api", "web", "db", "cache", "queue", "auth", "search", "storage", "mail", "dns", "cdn", "billing"];

    public static readonly string[] Environments = ["prod", "staging", "dev", "eu", "us", "asia", "edge", "internal"];

    /// <summary>The thresholds the configuration's <c>defaults</c> set, used by the seed too.</summary>
    public static readonly StateThresholds Thresholds = new(2, 1);

    public static string Name(int i) => $"{Services[i % Services.Length]}-{Environments[i / Services.Length % Environments.Length]}-{i:D5}";

    public static bool IsTcp(int i) => i % 5 == 4;

    public static bool IsPublic(int i) => i % 200 == 0;

    public static bool IsFailing(int i) => i % 50 == 7;

    /// <summary>
    /// Writes the agent's configuration: <paramref name="checks"/> checks every <paramref name="interval"/> against the
    /// private nginx on <paramref name="targetPort"/> (failing ones against <paramref name="closedPort"/>), the outbox at
    /// <paramref name="dbPath"/>, the web server on <paramref name="urls"/>, no central database; retention and size limit
    /// large enough that the collector keeps the seeded 30 days (<c>localRetention</c> 35 days, <c>maxOutboxSize</c> 64 GiB).
    /// </summary>
    public static void WriteConfig(string file, int checks, TimeSpan interval, int targetPort, int closedPort, string dbPath, string urls)
    {
        using var stream = File.Create(file);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteString("localDatabasePath", dbPath);
        w.WriteString("localRetention", "35d");
        w.WriteString("maxOutboxSize", "64GiB");
        w.WriteStartObject("web");
        w.WriteString("urls", urls);
        w.WriteString("title", "tocsin bench/web");
        w.WriteEndObject();
        w.WriteStartObject("defaults");
        w.WriteString("interval", Configuration.Duration.Format(interval));
        w.WriteString("timeout", "5s");
        w.WriteNumber("failureThreshold", Thresholds.FailureThreshold);
        w.WriteNumber("successThreshold", Thresholds.SuccessThreshold);
        w.WriteEndObject();
        w.WriteStartArray("checks");
        for (int i = 0; i < checks; i++)
        {
            int port = IsFailing(i) ? closedPort : targetPort;
            string service = Services[i % Services.Length];
            w.WriteStartObject();
            w.WriteString("name", Name(i));
            if (IsTcp(i))
            {
                w.WriteString("kind", "tcp");
                w.WriteString("host", "127.0.0.1");
                w.WriteNumber("port", port);
            }
            else
            {
                w.WriteString("kind", "http");
                w.WriteString("url", $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/{service}/health?check={i.ToString(CultureInfo.InvariantCulture)}");
            }

            w.WriteStartArray("tags");
            w.WriteStringValue(service);
            w.WriteStringValue(Environments[i / Services.Length % Environments.Length]);
            w.WriteEndArray();
            if (IsPublic(i))
            {
                w.WriteBoolean("public", true);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>
    /// Writes <paramref name="rows"/> results of <paramref name="checks"/> checks, started evenly over <paramref name="span"/>
    /// before <paramref name="end"/> (each check every span/(rows/checks), at its own phase), in time order, through
    /// <see cref="SqliteOutbox.WriteBatch"/> in batches of <paramref name="batch"/>, with <see cref="Thresholds"/>.
    /// </summary>
    /// <returns>The time spent inside <see cref="SqliteOutbox.WriteBatch"/> (the rest went to making the results).</returns>
    public static TimeSpan Seed(SqliteOutbox outbox, int checks, long rows, DateTimeOffset end, TimeSpan span, int batch, Action<long>? progress = null)
    {
        long writing = 0;
        void Write(List<CheckResult> list)
        {
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            outbox.WriteBatch(list, _ => Thresholds);
            writing += System.Diagnostics.Stopwatch.GetTimestamp() - t0;
        }

        long perCheck = rows / checks;
        var every = span / perCheck;
        var start = end - span;
        var list = new List<CheckResult>(batch);
        long written = 0;
        for (long k = 0; k < perCheck; k++)
        {
            var round = start + (every * k);
            for (int c = 0; c < checks; c++)
            {
                var started = round + (every * c / checks);
                list.Add(Result(c, k, perCheck, started));
                if (list.Count == batch)
                {
                    Write(list);
                    written += list.Count;
                    list.Clear();
                    progress?.Invoke(written);
                }
            }
        }

        if (list.Count > 0)
        {
            Write(list);
            written += list.Count;
            progress?.Invoke(written);
        }

        return TimeSpan.FromSeconds(writing / (double)System.Diagnostics.Stopwatch.Frequency);
    }

    /// <summary>Run <paramref name="k"/> of <paramref name="perCheck"/> of check <paramref name="c"/>; deterministic state.</summary>
    public static CheckResult Result(int c, long k, long perCheck, DateTimeOffset started)
    {
        uint h = DrainData.Hash((uint)((c * 2_654_435_761L) ^ (k * 40_503L)));
        var state = CheckState.OK;
        int roll = (int)(h % 1000);
        if (roll < 7)
        {
            state = CheckState.WARNING;
        }
        else if (roll < 12)
        {
            state = CheckState.CRITICAL;
        }
        else if (roll < 15)
        {
            state = CheckState.UNKNOWN;
        }

        // Outages: in 5 % of the blocks of 25 runs, 1–6 CRITICAL runs in a row.
        long block = k / 25;
        uint hb = DrainData.Hash((uint)((c * 7_919L) ^ (block * 104_729L) ^ 0x5bd1e995));
        if (hb % 100 < 5)
        {
            long from = (block * 25) + ((hb >> 8) % 19);
            long length = 1 + ((hb >> 16) % 6);
            if (k >= from && k < from + length)
            {
                state = CheckState.CRITICAL;
            }
        }

        // The checks configured to fail have failed for their last 1–40 runs.
        if (IsFailing(c) && k >= perCheck - 1 - (DrainData.Hash((uint)c) % 40))
        {
            state = CheckState.CRITICAL;
        }

        return DrainData.Shaped(Name(c), c, IsTcp(c), state, h, started);
    }

    /// <summary>Counts of what the seed made, read back from the outbox file (for the report).</summary>
    public static string Describe(string dbPath)
    {
        using var c = new Microsoft.Data.Sqlite.SqliteConnection(new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder { DataSource = dbPath, Mode = Microsoft.Data.Sqlite.SqliteOpenMode.ReadOnly }.ToString());
        c.Open();
        var sb = new StringBuilder();
        foreach (var (label, sql) in new[]
        {
            ("results", "SELECT count(*) FROM results"),
            ("results_not_ok", "SELECT count(*) FROM results WHERE state <> 0"),
            ("check_states", "SELECT count(*) FROM check_states"),
            ("state_changes", "SELECT count(*) FROM state_changes"),
            ("incidents", "SELECT count(*) FROM incidents"),
            ("incidents_open", "SELECT count(*) FROM incidents WHERE closed_at IS NULL"),
            ("check_hours", "SELECT count(*) FROM check_hours"),
            ("check_days", "SELECT count(*) FROM check_days"),
        })
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            sb.Append(label).Append('=').Append(Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        return sb.ToString();
    }
}
