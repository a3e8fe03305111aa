using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tocsin.Checks;
using Tocsin.Checks.Command;
using Tocsin.Configuration;
using Tocsin.Diagnostics;
using Tocsin.Scheduling;

namespace Tocsin.Core.Tests.Checks.Command;

/// <summary>Promise directories (seed 003's <c>etc/monitor-promise</c>) with real files, run as real child processes.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PromiseDirectoryTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 30, TimeSpan.Zero);
    private readonly TempFolder _folder = new();
    private readonly string _dir;

    public PromiseDirectoryTests()
    {
        _dir = Path.Combine(_folder.Path, "etc", "monitor-promise");
        Directory.CreateDirectory(_dir);
    }

    public void Dispose() => _folder.Dispose();

    private string Promise(string name, string body = "echo fine", string? cfg = null, string? dir = null)
    {
        string path = Path.Combine(dir ?? _dir, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (cfg is not null)
        {
            File.WriteAllText(path + ".cfg", cfg);
        }

        return path;
    }

    private PromiseScan Scan(params string[] dirs) => PromiseDirectory.Scan(dirs.Length == 0 ? [_dir] : dirs, TimeZoneInfo.Utc, Now);

    [Fact]
    public async Task Three_promises_with_frequency_without_cfg_and_with_a_bad_cron_the_bad_one_disabled_the_others_run()
    {
        Promise("with-frequency", "echo 'DISK OK - fine | free=5B'", "[service]\ntitle = \"Disk free\"\nfrequency = */5 * * * *\npublic-path-list = /var/log/a.log, logs/b.log\nprivate-path-list = /srv/x /srv/y\n");
        Promise("without-cfg", "echo '{\"status\": \"OK\", \"message\": \"json promise\"}'");
        Promise("bad-cron", "echo never", "[service]\nfrequency = */5 * * *\n");

        var scan = Scan();

        Assert.Empty(scan.Problems);
        Assert.Equal(["bad-cron", "with-frequency", "without-cfg"], scan.Checks.Select(c => c.Name));
        var withFrequency = scan.Checks[1];
        Assert.True(withFrequency.Enabled);
        Assert.Equal("*/5 * * * *", withFrequency.Schedule!.Text);
        Assert.Equal(TimeSpan.FromMinutes(5), withFrequency.Interval);
        Assert.Equal(CommandCheckKind.DefaultCommandTimeout, withFrequency.Timeout);
        Assert.Equal([PromiseDirectory.Tag], withFrequency.Tags);
        Assert.Equal(CheckPlacement.All, withFrequency.Placement);
        Assert.Equal("Disk free", withFrequency.Promise!.Title);
        Assert.Equal(["/var/log/a.log", Path.Combine(_dir, "logs", "b.log")], withFrequency.Promise.PublicPaths);
        Assert.Equal(["/srv/x", "/srv/y"], withFrequency.Promise.PrivatePaths);
        Assert.Equal([Path.Combine(_dir, "with-frequency")], ((CommandCheckOptions)withFrequency.Options).Command);

        var withoutCfg = scan.Checks[2];
        Assert.True(withoutCfg.Enabled);
        Assert.Equal(PromiseDirectory.DefaultFrequency, withoutCfg.Schedule!.Text);
        Assert.Equal(TimeSpan.FromMinutes(1), withoutCfg.Interval);
        Assert.Equal(TimeSpan.FromSeconds(48), withoutCfg.Timeout);
        Assert.Null(withoutCfg.Promise!.ConfigPath);

        var bad = scan.Checks[0];
        Assert.False(bad.Enabled);
        Assert.Null(bad.Schedule);
        Assert.StartsWith(Path.Combine(_dir, "bad-cron.cfg") + ": frequency \"*/5 * * *\" is not a 5-field cron expression", bad.DisabledReason, StringComparison.Ordinal);

        // Run them as the agent would: every enabled check once, real child processes.
        var catalog = new CheckCatalog([]);
        catalog.SetDiscovered(scan.Checks, scan.Problems, PromiseDirectory.Same);
        var kinds = new CheckKindRegistry([new CommandCheckKind(TimeProvider.System)]);
        var sink = new ListSink();
        using var metrics = new TocsinMetrics();
        using var scheduler = new Scheduler(catalog, new CheckExecutor(kinds, TimeProvider.System, metrics, NullLogger<CheckExecutor>.Instance), sink,
            new SchedulerOptions(), TimeProvider.System, metrics, NullLogger<Scheduler>.Instance);
        var results = await scheduler.RunOnceAsync(TestContext.Current.CancellationToken);

        Assert.Equal(["with-frequency", "without-cfg"], results.Select(r => r.CheckName));
        Assert.All(results, r => Assert.Equal(CheckState.OK, r.State));
        Assert.Equal("DISK OK - fine", results[0].Message);
        Assert.Equal("json promise", results[1].Message);
        Assert.Equal(RunNowStatus.Disabled, scheduler.RunNow("bad-cron").Status);
    }

    [Theory]
    [InlineData("[service]\nfreq = * * * * *\n", "unknown key \"freq\" in [service]; allowed: title, frequency, public-path-list, private-path-list")]
    [InlineData("title = x\n", "line 1: key \"title\" comes before any [section] header")]
    [InlineData("[other]\ntitle = x\n", "unknown section [other]")]
    [InlineData("# only a comment\n", "has no [service] section")]
    [InlineData("[service]\nfrequency = 0 0 30 2 *\n", "frequency \"0 0 30 2 *\" never fires")]
    public void A_bad_cfg_disables_only_its_check_with_the_reason(string cfg, string reason)
    {
        Promise("bad", cfg: cfg);
        Promise("good");

        var scan = Scan();

        var bad = scan.Checks.Single(c => c.Name == "bad");
        Assert.False(bad.Enabled);
        Assert.Contains(reason, bad.DisabledReason, StringComparison.Ordinal);
        Assert.StartsWith(Path.Combine(_dir, "bad.cfg") + ": ", bad.DisabledReason, StringComparison.Ordinal);
        Assert.True(scan.Checks.Single(c => c.Name == "good").Enabled);
    }

    [Fact]
    public void Ignores_non_executable_files_cfg_files_hidden_files_directories_and_broken_links()
    {
        Promise("runs");
        File.WriteAllText(Path.Combine(_dir, "not-executable"), "#!/bin/sh\necho\n");
        Promise(".hidden");
        Promise("executable.cfg");
        Directory.CreateDirectory(Path.Combine(_dir, "a-directory"));
        File.CreateSymbolicLink(Path.Combine(_dir, "broken-link"), Path.Combine(_folder.Path, "nowhere"));
        File.CreateSymbolicLink(Path.Combine(_dir, "link-to-directory"), _folder.Path);

        Assert.Equal(["runs"], Scan().Checks.Select(c => c.Name));
    }

    [Fact]
    public async Task A_symlink_to_an_executable_outside_the_directory_is_a_promise_run_through_the_link()
    {
        // Seed 003 used os.path.isfile and os.access(X_OK), which follow links: a linked plugin is a promise.
        string outside = Path.Combine(_folder.Path, "plugins");
        Directory.CreateDirectory(outside);
        string target = Promise("check_something", "echo \"OK - ran as $0\"", dir: outside);
        string link = Path.Combine(_dir, "linked");
        File.CreateSymbolicLink(link, target);

        var check = Assert.Single(Scan().Checks);
        Assert.Equal("linked", check.Name);
        Assert.Equal([link], ((CommandCheckOptions)check.Options).Command);

        using var h = new CommandHarness();
        var result = await h.RunAsync(check);
        Assert.Equal(CheckState.OK, result.State);
        Assert.Equal($"OK - ran as {link}", result.Message);
    }

    [Fact]
    public void The_first_directory_wins_a_name_and_the_configuration_file_wins_over_both()
    {
        string second = Path.Combine(_folder.Path, "second");
        Directory.CreateDirectory(second);
        Promise("shared");
        Promise("shared", dir: second);
        Promise("configured-name");
        Promise("only-second", dir: second);

        var scan = Scan(_dir, second, Path.Combine(_folder.Path, "missing"));
        Assert.Equal(["configured-name", "shared", "only-second"], scan.Checks.Select(c => c.Name));
        Assert.Equal(_dir, scan.Checks[1].Promise!.Directory);
        Assert.Contains(scan.Problems, p => p.StartsWith($"promise {Path.Combine(second, "shared")} is ignored: {Path.Combine(_dir, "shared")} already makes a check named \"shared\"", StringComparison.Ordinal));
        Assert.Contains(scan.Problems, p => p.StartsWith($"promise directory {Path.Combine(_folder.Path, "missing")} cannot be read", StringComparison.Ordinal));

        var configured = new CheckDefinition("configured-name", "http", TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10), new object());
        var catalog = new CheckCatalog([configured]);
        var snapshot = catalog.SetDiscovered(scan.Checks, scan.Problems, PromiseDirectory.Same)!;
        Assert.Equal(["configured-name", "shared", "only-second"], snapshot.Checks.Select(c => c.Name));
        Assert.Same(configured, snapshot.Checks[0]);
        Assert.Equal([0, 1, 2], snapshot.Checks.Select(c => c.Index));
        Assert.Contains(snapshot.Problems, p => p.Contains("a check of the configuration file is named \"configured-name\"", StringComparison.Ordinal));

        // The same scan again changes nothing.
        Assert.Null(catalog.SetDiscovered(Scan(_dir, second, Path.Combine(_folder.Path, "missing")).Checks, scan.Problems, PromiseDirectory.Same));
        Assert.Equal(2, catalog.Current.Version);
    }

    [Fact]
    public async Task Watcher_picks_up_files_added_changed_and_removed_without_a_restart()
    {
        Promise("first");
        var config = new TocsinConfig { SourcePath = "/x", LocalDatabasePath = "/x.db", PromiseDirectories = [_dir] };
        var catalog = PromiseWatcher.LoadCatalog(config, TimeProvider.System);
        Assert.Equal(["first"], catalog.Checks.Select(c => c.Name));
        // A long period: what follows is seen through the file watcher's events.
        using var watcher = new PromiseWatcher(catalog, [_dir], TimeZoneInfo.Utc, TimeProvider.System, NullLogger<PromiseWatcher>.Instance)
        {
            RescanInterval = TimeSpan.FromMinutes(10),
            DebounceDelay = TimeSpan.FromMilliseconds(50),
        };
        await watcher.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            Promise("second", cfg: "[service]\nfrequency = 0 * * * *\n");
            await Until(catalog, c => c.Find("second") is { Enabled: true, Schedule.Text: "0 * * * *" }, "second added");

            File.WriteAllText(Path.Combine(_dir, "second.cfg"), "[service]\nfrequency = */10 * * * *\n");
            await Until(catalog, c => c.Find("second")?.Schedule?.Text == "*/10 * * * *", "second's frequency changed");

            File.WriteAllText(Path.Combine(_dir, "second.cfg"), "[service]\nfrequency = bad\n");
            await Until(catalog, c => c.Find("second") is { Enabled: false, DisabledReason: not null }, "second disabled by a bad cron");

            File.SetUnixFileMode(Path.Combine(_dir, "first"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
            await Until(catalog, c => c.Find("first") is null, "first no longer executable");

            File.Delete(Path.Combine(_dir, "second"));
            await Until(catalog, c => c.Checks.Count == 0, "second removed");
        }
        finally
        {
            await watcher.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Periodic_rescan_finds_what_no_event_announced()
    {
        string late = Path.Combine(_folder.Path, "created-later");
        var catalog = new CheckCatalog([]);
        using var watcher = new PromiseWatcher(catalog, [late], TimeZoneInfo.Utc, TimeProvider.System, NullLogger<PromiseWatcher>.Instance)
        {
            RescanInterval = TimeSpan.FromMilliseconds(200),
        };
        await watcher.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            // The directory did not exist at the start, so nothing watched it: only the rescan can see it.
            Directory.CreateDirectory(late);
            Promise("arrived", dir: late);
            await Until(catalog, c => c.Find("arrived") is not null, "the promise of a directory created after the start");
            Assert.True(watcher.Scans >= 1);
        }
        finally
        {
            await watcher.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_promise_added_at_run_time_is_scheduled_by_its_frequency_and_stops_when_removed()
    {
        var time = new FakeTimeProvider(Now);
        var catalog = new CheckCatalog([]);
        using var watcher = new PromiseWatcher(catalog, [_dir], TimeZoneInfo.Utc, time, NullLogger<PromiseWatcher>.Instance);
        var kinds = new CheckKindRegistry([new CommandCheckKind(TimeProvider.System)]);
        var sink = new ListSink();
        using var metrics = new TocsinMetrics();
        using var scheduler = new Scheduler(catalog, new CheckExecutor(kinds, time, metrics, NullLogger<CheckExecutor>.Instance), sink,
            new SchedulerOptions(), time, metrics, NullLogger<Scheduler>.Instance);
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);

        Promise("added-later", "echo \"OK - real child $$\"", "[service]\nfrequency = */2 * * * *\n");
        Assert.NotNull(watcher.Rescan());
        await Advance(time, TimeSpan.FromMinutes(4) + TimeSpan.FromSeconds(1), () => scheduler.InFlight == 0);
        Assert.Equal(
            [new DateTimeOffset(2026, 1, 1, 0, 2, 0, TimeSpan.Zero), new DateTimeOffset(2026, 1, 1, 0, 4, 0, TimeSpan.Zero)],
            sink.Results.Select(r => r.ScheduledAt));
        Assert.All(sink.Results, r => Assert.StartsWith("OK - real child ", r.Message, StringComparison.Ordinal));

        // Every minute now.
        File.WriteAllText(Path.Combine(_dir, "added-later.cfg"), "[service]\nfrequency = * * * * *\n");
        Assert.NotNull(watcher.Rescan());
        await Advance(time, TimeSpan.FromMinutes(2), () => scheduler.InFlight == 0);
        Assert.Equal(new DateTimeOffset(2026, 1, 1, 0, 6, 0, TimeSpan.Zero), sink.Results[^1].ScheduledAt);

        File.Delete(Path.Combine(_dir, "added-later"));
        Assert.NotNull(watcher.Rescan());
        await Task.Delay(200, TestContext.Current.CancellationToken);
        int count = sink.Count;
        await Advance(time, TimeSpan.FromMinutes(3), () => scheduler.InFlight == 0);
        await stop.CancelAsync();
        await run;

        Assert.Equal(count, sink.Count);
        Assert.Equal(RunNowStatus.UnknownCheck, scheduler.RunNow("added-later").Status);
    }

    /// <summary>Advances fake time minute-grain step by step, waiting for the real child processes of due runs.</summary>
    private static async Task Advance(FakeTimeProvider time, TimeSpan total, Func<bool> idle)
    {
        var end = time.GetUtcNow() + total;
        while (time.GetUtcNow() < end)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            for (int i = 0; i < 3; i++)
            {
                await Task.Delay(1, TestContext.Current.CancellationToken);
            }

            if (time.GetUtcNow().Second == 1)
            {
                // Just past a minute: give a run started at the minute time to finish its real child process.
                for (int i = 0; i < 500 && !idle(); i++)
                {
                    await Task.Delay(10, TestContext.Current.CancellationToken);
                }
            }
        }
    }

    private static async Task Until(CheckCatalog catalog, Func<CheckCatalogSnapshot, bool> done, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!done(catalog.Current))
        {
            Assert.True(DateTime.UtcNow < deadline, $"waited 20 s for {what}; checks: {string.Join(", ", catalog.Checks.Select(c => c.Name))}");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    private sealed class ListSink : IResultSink
    {
        private readonly List<CheckResult> _results = [];

        public int Count
        {
            get
            {
                lock (_results)
                {
                    return _results.Count;
                }
            }
        }

        public IReadOnlyList<CheckResult> Results
        {
            get
            {
                lock (_results)
                {
                    return [.. _results];
                }
            }
        }

        public ValueTask WriteAsync(CheckResult result, CancellationToken cancellationToken)
        {
            lock (_results)
            {
                _results.Add(result);
            }

            return ValueTask.CompletedTask;
        }
    }
}
