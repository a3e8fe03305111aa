using System.Globalization;

namespace Tocsin.Bench;

/// <summary>Command-line options of the benchmark.</summary>
internal sealed record BenchOptions
{
    public const string Usage = """
        tocsin-bench: drives the real Tocsin engine (Scheduler, CheckExecutor, HttpCheckRunner,
        ResultWriter, SqliteOutbox) in-process against a loopback HTTP target and prints figures.

        Options:
          --checks N             number of http checks                        (default 10000)
          --interval D           interval of every check, e.g. 5s             (default 5s)
          --warmup D             run this long before measuring               (default 0s)
          --duration D           measured time, after the warm-up            (default 60s)
          --target URL           loopback URL every check GETs                (default http://127.0.0.1:8080/)
          --max-concurrent N     scheduler's MaxConcurrentRuns                (default 1024, the engine default)
          --timeout D            every check's timeout                        (default interval/2, at most 10s)
          --name TEXT            label printed with the figures               (default "run")
          --summary FILE         also write the figures as key=value lines to FILE
          --expect-p99-lag-ms X  goal: p99 schedule lag below X ms            (optional)
          --expect-peak-rss-mb X goal: peak RSS below X MB                    (optional)
          --db FILE              SQLite outbox file (default: a new temp file, deleted at the end)
          --parts                instead: time the engine's pieces one at a time (outbox write,
                                 http runner alone, a plain shared HttpClient) for --duration each
          --progress D           progress line to stderr every D             (default 5s; 0s = none)

        Command checks (bench/promises):
          --command-dir DIR      instead of http checks: command checks, the i-th running the i-th executable
                                 of DIR (sorted by name, cycling when --checks is larger); no --target needed
          --max-processes N      the command kind's MaxProcesses (default: the engine's, 4 × CPUs in 16–64)

        Export to PostgreSQL (the connection string names a private server; a password in it is passed to
        psql through PGPASSWORD, never printed):
          --fill                 instead: write --rows realistic results into a new outbox --db FILE
          --rows N               results --fill writes                        (default 1000000)
          --span D               --fill spreads their start over this long    (default 1h)
          --drain                instead: copy the outbox --db FILE (made by --fill), drain it with the real
                                 Exporter into --pg, then psql \copy the same rows (binary) into the same
                                 table as the limit; print both rates and their ratio
          --repeat N             --drain rounds (exporter then psql each)      (default 1)
          --pg CS                PostgreSQL connection string (Npgsql form)
          --psql PATH            psql for --drain                             (default psql)
          --backlog-db FILE      with --pg, in the scheduled-load mode: start from a copy of this outbox
                                 (made by --fill) and run the Exporter beside the scheduler

        Alerting benchmark (bench/alerting, issue 7):
          --alerting             instead: --checks http checks every --interval against an in-process target with
                                 a webhook channel to an in-process receiver (both Kestrel on loopback); once every
                                 check has a result, all of them turn CRITICAL at once; prints the time until every
                                 problem notification is delivered, notifications/s, and the schedule lag meanwhile

        Web benchmark (bench/web, issue 5):
          --web-config FILE      instead: write the configuration of --checks checks every --interval (tags,
                                 public and failing checks as WebData says) for the outbox --db FILE, the web
                                 server on --urls URL, http/tcp checks to --target-port, failing ones to --closed-port
          --seed-web             instead: fill a new outbox --db FILE with --rows results of --checks checks over
                                 --span (e.g. 30d) through SqliteOutbox.WriteBatch in batches of --batch, then run
                                 the collector once as the agent would
          --batch N              results per WriteBatch for --seed-web           (default 2000, the writer's)
          --web-profile          instead: time the pieces of GET /api/v1/checks in-process on the outbox --db FILE
                                 with the checks of --web-config FILE, --repeat rounds
        """;

    public int Checks { get; init; } = 10_000;

    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan Warmup { get; init; } = TimeSpan.Zero;

    public Uri Target { get; init; } = new("http://127.0.0.1:8080/");

    public int MaxConcurrent { get; init; } = 1024;

    public TimeSpan? Timeout { get; init; }

    public string Name { get; init; } = "run";

    public string? SummaryFile { get; init; }

    public double? ExpectP99LagMs { get; init; }

    public double? ExpectPeakRssMb { get; init; }

    public string? DatabaseFile { get; init; }

    public bool Parts { get; init; }

    public TimeSpan Progress { get; init; } = TimeSpan.FromSeconds(5);

    public bool Fill { get; init; }

    public bool Drain { get; init; }

    public int Rows { get; init; } = 1_000_000;

    public TimeSpan Span { get; init; } = TimeSpan.FromHours(1);

    public int Repeat { get; init; } = 1;

    public string? Postgres { get; init; }

    public string Psql { get; init; } = "psql";

    public string? BacklogDb { get; init; }

    public string? CommandDir { get; init; }

    public int? MaxProcesses { get; init; }

    /// <summary>What each check is, for the printed figures.</summary>
    public string CheckNoun => CommandDir is null ? "http checks" : "command checks";

    public string? WebConfig { get; init; }

    public bool SeedWeb { get; init; }

    public bool WebProfile { get; init; }

    /// <summary>Run the alerting benchmark.</summary>
    public bool Alerting { get; init; }

    public int Batch { get; init; } = 2_000;

    public int? TargetPort { get; init; }

    public int? ClosedPort { get; init; }

    public string? Urls { get; init; }

    /// <summary>The checks' timeout: the given one, else half the interval capped at 10 s.</summary>
    public TimeSpan EffectiveTimeout =>
        Timeout ?? TimeSpan.FromTicks(Math.Min(Interval.Ticks / 2, TimeSpan.FromSeconds(10).Ticks));

    /// <summary>Runs per second the schedule asks for.</summary>
    public double ScheduledRate => Checks / Interval.TotalSeconds;

    /// <summary>Parses <paramref name="args"/>.</summary>
    /// <exception cref="ArgumentException">With a message naming the option and the problem.</exception>
    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value");
            o = name switch
            {
                "--checks" => o with { Checks = Int(name, Value(), 1, 1_000_000) },
                "--interval" => o with { Interval = Dur(name, Value(), TimeSpan.FromSeconds(1)) },
                "--duration" => o with { Duration = Dur(name, Value(), TimeSpan.FromSeconds(1)) },
                "--warmup" => o with { Warmup = Dur(name, Value(), TimeSpan.Zero) },
                "--target" => o with { Target = Url(name, Value()) },
                "--max-concurrent" => o with { MaxConcurrent = Int(name, Value(), 1, 100_000) },
                "--timeout" => o with { Timeout = Dur(name, Value(), TimeSpan.FromMilliseconds(10)) },
                "--name" => o with { Name = Value() },
                "--summary" => o with { SummaryFile = Value() },
                "--expect-p99-lag-ms" => o with { ExpectP99LagMs = Num(name, Value()) },
                "--expect-peak-rss-mb" => o with { ExpectPeakRssMb = Num(name, Value()) },
                "--db" => o with { DatabaseFile = Value() },
                "--parts" => o with { Parts = true },
                "--progress" => o with { Progress = Dur(name, Value(), TimeSpan.Zero) },
                "--fill" => o with { Fill = true },
                "--drain" => o with { Drain = true },
                "--rows" => o with { Rows = Int(name, Value(), 1, 100_000_000) },
                "--span" => o with { Span = Dur(name, Value(), TimeSpan.FromSeconds(1)) },
                "--repeat" => o with { Repeat = Int(name, Value(), 1, 100) },
                "--pg" => o with { Postgres = Value() },
                "--psql" => o with { Psql = Value() },
                "--backlog-db" => o with { BacklogDb = Value() },
                "--command-dir" => o with { CommandDir = Value() },
                "--max-processes" => o with { MaxProcesses = Int(name, Value(), 1, 10_000) },

                "--alerting" => o with { Alerting = true },
                "--web-config" => o with { WebConfig = Value() },
                "--seed-web" => o with { SeedWeb = true },
                "--web-profile" => o with { WebProfile = true },
                "--batch" => o with { Batch = Int(name, Value(), 1, 1_000_000) },
                "--target-port" => o with { TargetPort = Int(name, Value(), 1, 65535) },
                "--closed-port" => o with { ClosedPort = Int(name, Value(), 1, 65535) },
                "--urls" => o with { Urls = Url(name, Value()).ToString().TrimEnd('/') },
                _ => throw new ArgumentException($"unknown option {name}"),
            };
        }

        if (o.EffectiveTimeout >= o.Interval)
        {
            throw new ArgumentException($"--timeout {Configuration.Duration.Format(o.EffectiveTimeout)} must be shorter than --interval {Configuration.Duration.Format(o.Interval)}");
        }

        return o;
    }

    private static int Int(string name, string text, int min, int max) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= min && n <= max
            ? n
            : throw new ArgumentException($"{name} \"{text}\": expected a whole number from {min} to {max}");

    private static double Num(string name, string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double n) && n > 0
            ? n
            : throw new ArgumentException($"{name} \"{text}\": expected a positive number");

    private static TimeSpan Dur(string name, string text, TimeSpan min) =>
        Configuration.Duration.TryParse(text, out var d) && d >= min
            ? d
            : throw new ArgumentException($"{name} \"{text}\": expected {Configuration.Duration.Allowed}, at least {Configuration.Duration.Format(min)}");

    private static Uri Url(string name, string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
        {
            throw new ArgumentException($"{name} \"{text}\": expected an absolute http(s) URL");
        }

        if (!uri.IsLoopback)
        {
            throw new ArgumentException($"{name} \"{text}\": the benchmark only targets loopback (127.0.0.1, ::1, localhost)");
        }

        return uri;
    }
}
