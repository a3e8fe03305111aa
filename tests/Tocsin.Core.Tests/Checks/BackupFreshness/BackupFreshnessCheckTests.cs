using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Tocsin.Checks;
using Tocsin.Checks.BackupFreshness;
using Tocsin.Configuration;

namespace Tocsin.Core.Tests.Checks.BackupFreshness;

/// <summary>The <c>backup-freshness</c> kind on real folders of dumps, with a fake clock for "now".</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class BackupFreshnessCheckTests : IDisposable
{
    /// <summary>Seed 001's night: the dump of 2026-12-03 was written at 00:01:12 UTC.</summary>
    private static readonly DateTimeOffset Dec3 = new(2026, 12, 3, 0, 0, 0, TimeSpan.Zero);

    private static readonly ConfigLoader Loader = new(CheckKinds.CreateDefault(TimeProvider.System));

    private readonly TempFolder _folder = new();

    private readonly FakeTimeProvider _time = new(Dec3);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _folder.Dispose();

    private string Backups => _folder.Path;

    private CheckDefinition Check(string fields, string? path = null) =>
        Assert.Single(Loader.Parse($$"""{ "checks": [{ "name": "backups", "kind": "backup-freshness", "path": "{{path ?? Backups}}", {{fields}} }] }""", "/tocsin-tests/config.json").Checks);

    private Task<RunOutcome> RunAsync(CheckDefinition check) => new BackupFreshnessCheckKind(_time).RunAsync(check, Ct);

    private void At(DateTimeOffset now) => _time.SetUtcNow(now);

    private static string DumpName(DateTimeOffset t) => $"dump-{t.UtcDateTime:yyyy-MM-dd-HH:mm:ss}";

    /// <summary>A mongodump-like folder: one database folder with two files of the given sizes.</summary>
    private string AddDump(DateTimeOffset t, int bytes = 1000)
    {
        string dir = Path.Combine(Backups, DumpName(t), "rocketdb");
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, "users.bson.gz"), new byte[bytes / 2]);
        File.WriteAllBytes(Path.Combine(dir, "rocketchat_message.bson.gz"), new byte[bytes - (bytes / 2)]);
        return DumpName(t);
    }

    /// <summary>Seed 001's set: the nightly dumps of the 7 days up to <paramref name="lastDay"/>, each at 00:01:12.</summary>
    private void AddNightlyDumps(DateTimeOffset lastDay, int count = 7, int bytes = 1000)
    {
        for (int i = 0; i < count; i++)
        {
            AddDump(lastDay.AddDays(-i) + new TimeSpan(0, 1, 12), bytes);
        }
    }

    private static double Perf(RunOutcome outcome, string label) =>
        (double)outcome.Details!["perfdata"]!.AsArray().Single(p => (string)p!["label"]! == label)!["value"]!;

    [Fact]
    public async Task Seed_001_set_of_seven_nightly_dumps_is_OK_with_ages_count_and_perfdata()
    {
        AddNightlyDumps(Dec3);
        At(Dec3 + new TimeSpan(11, 21, 40));

        var outcome = await RunAsync(Check("""  "schedule": "1 0 * * *", "keep": 7 """));

        Assert.Equal(CheckState.OK, outcome.State);
        Assert.Equal(
            "newest dump-2026-12-03-00:01:12 is 11h20m old, in time for the run of 2026-12-03T00:01:00Z (cron 1 0 * * * (UTC) + 1h grace); 7 dumps (keep 7)",
            outcome.Message);
        var d = outcome.Details!;
        Assert.Equal("dump-2026-12-03-00:01:12", (string)d["newest"]!["name"]!);
        Assert.Equal("2026-12-03T00:01:12Z", (string)d["newest"]!["time"]!);
        Assert.Equal(11 * 3600 + 20 * 60 + 28, (long)d["newest"]!["ageSeconds"]!);
        Assert.Equal("directory", (string)d["newest"]!["type"]!);
        Assert.Equal(1000, (long)d["newest"]!["sizeBytes"]!);
        Assert.True((bool)d["newest"]!["sizeExact"]!);
        Assert.Equal(7, (int)d["count"]!);
        Assert.Equal(7, (int)d["keep"]!);
        Assert.Equal(0, (int)d["ignored"]!);
        Assert.Equal("dump-2026-11-27-00:01:12", (string)d["dumps"]!.AsArray()[6]!["name"]!);
        Assert.Equal("2026-12-03T00:01:00Z", (string)d["lastRunDue"]!);
        Assert.Equal(11 * 3600 + 20 * 60 + 28, Perf(outcome, "newest_age"));
        Assert.Equal(7, Perf(outcome, "dumps"));
    }

    [Fact]
    public async Task With_a_schedule_the_dump_of_a_run_must_exist_once_the_run_plus_grace_has_passed()
    {
        AddNightlyDumps(Dec3);
        var check = Check("""  "schedule": "1 0 * * *", "grace": "1h", "keep": 7 """);

        At(Dec3.AddDays(1) + new TimeSpan(1, 1, 0)); // exactly Dec 4's run + grace: not yet late
        Assert.Equal(CheckState.OK, (await RunAsync(check)).State);

        At(Dec3.AddDays(1) + new TimeSpan(1, 1, 1));
        var late = await RunAsync(check);
        Assert.Equal(CheckState.CRITICAL, late.State);
        Assert.Equal(
            "no dump for the run of 2026-12-04T00:01:00Z (cron 1 0 * * * (UTC) + 1h grace): newest dump-2026-12-03-00:01:12 is 1d59m old; 7 dumps (keep 7)",
            late.Message);

        AddDump(Dec3.AddDays(1) + new TimeSpan(0, 1, 9)); // the job ran late; retention deletes the oldest after the dump
        Directory.Delete(Path.Combine(Backups, "dump-2026-11-27-00:01:12"), recursive: true);
        var caughtUp = await RunAsync(check);
        Assert.Equal(CheckState.OK, caughtUp.State);
        Assert.StartsWith("newest dump-2026-12-04-00:01:09 is 59m52s old, in time for the run of 2026-12-04T00:01:00Z", caughtUp.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dump_named_a_little_before_its_run_counts_for_it()
    {
        AddDump(Dec3.AddDays(-1) + new TimeSpan(0, 1, 5));
        AddDump(Dec3 + new TimeSpan(0, 0, 58)); // the job's clock is 2 s behind the scheduler's
        At(Dec3 + new TimeSpan(1, 30, 0));

        var outcome = await RunAsync(Check("""  "schedule": "1 0 * * *" """));

        Assert.Equal(CheckState.OK, outcome.State);
        Assert.Contains("in time for the run of 2026-12-03T00:01:00Z", outcome.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_max_age_the_newest_dump_must_be_at_most_that_old()
    {
        AddNightlyDumps(Dec3, count: 2);
        var check = Check("""  "maxAge": "25h" """);

        At(Dec3 + new TimeSpan(25, 1, 12));
        var ok = await RunAsync(check);
        Assert.Equal(CheckState.OK, ok.State);
        Assert.Equal("newest dump-2026-12-03-00:01:12 is 1d1h old (max 1d1h); 2 dumps", ok.Message);

        _time.Advance(TimeSpan.FromSeconds(1));
        var old = await RunAsync(check);
        Assert.Equal(CheckState.CRITICAL, old.State);
        Assert.Equal("older than the max age 1d1h: newest dump-2026-12-03-00:01:12 is 1d1h old; 2 dumps", old.Message);
        Assert.Equal(90_000, (long)old.Details!["maxAgeSeconds"]!);
    }

    [Fact]
    public async Task More_dumps_than_keep_is_a_WARNING_except_one_more_while_the_newest_is_within_the_grace()
    {
        AddNightlyDumps(Dec3, count: 8);
        var check = Check("""  "schedule": "1 0 * * *", "grace": "1h", "keep": 7 """);

        At(Dec3 + new TimeSpan(0, 30, 0)); // the job wrote the new dump and has not deleted the oldest yet
        var writing = await RunAsync(check);
        Assert.Equal(CheckState.OK, writing.State);
        Assert.EndsWith("; 8 dumps (keep 7)", writing.Message, StringComparison.Ordinal);

        At(Dec3 + new TimeSpan(2, 0, 0));
        var notDeleted = await RunAsync(check);
        Assert.Equal(CheckState.WARNING, notDeleted.State);
        Assert.EndsWith("; 8 dumps, more than keep 7: old dumps are not deleted", notDeleted.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Min_size_sums_the_files_of_a_dump_folder_recursively()
    {
        string name = AddDump(Dec3 + new TimeSpan(0, 1, 12), bytes: 600_000);
        string nested = Path.Combine(Backups, name, "rocketdb", "admin");
        Directory.CreateDirectory(nested);
        File.WriteAllBytes(Path.Combine(nested, "system.version.bson"), new byte[500_000]);
        At(Dec3 + new TimeSpan(3, 0, 0));

        var ok = await RunAsync(Check("""  "maxAge": "25h", "minSize": "1MB" """));
        Assert.Equal(CheckState.OK, ok.State);
        Assert.True((long)ok.Details!["newest"]!["sizeBytes"]! >= 1_000_000); // counting stops once past minSize
        Assert.False((bool)ok.Details["newest"]!["sizeExact"]!);

        var all = await RunAsync(Check("""  "maxAge": "25h" """));
        Assert.Equal(1_100_000, (long)all.Details!["newest"]!["sizeBytes"]!);
        Assert.True((bool)all.Details["newest"]!["sizeExact"]!);

        var small = await RunAsync(Check("""  "maxAge": "25h", "minSize": "2MB" """));
        Assert.Equal(CheckState.CRITICAL, small.State);
        Assert.Contains("dump-2026-12-03-00:01:12 is 1.05MiB, under minSize 1.91MiB: likely a failed dump", small.Message, StringComparison.Ordinal);
        Assert.Equal(1_100_000, Perf(small, "newest_size"));
    }

    [Fact]
    public async Task Symbolic_links_inside_a_dump_are_not_followed()
    {
        string name = AddDump(Dec3 + new TimeSpan(0, 1, 12), bytes: 1000);
        string outside = Path.Combine(Backups, "big.bin");
        File.WriteAllBytes(outside, new byte[50_000]);
        File.CreateSymbolicLink(Path.Combine(Backups, name, "big.bin"), outside);
        Directory.CreateSymbolicLink(Path.Combine(Backups, name, "rocketdb", "loop"), Path.Combine(Backups, name));
        At(Dec3 + new TimeSpan(3, 0, 0));

        var outcome = await RunAsync(Check("""  "maxAge": "25h" """));

        Assert.Equal(1000, (long)outcome.Details!["newest"]!["sizeBytes"]!);
        Assert.True((bool)outcome.Details["newest"]!["sizeExact"]!);
    }

    [Fact]
    public async Task A_small_dump_younger_than_the_grace_is_taken_as_still_being_written_and_the_one_before_is_judged()
    {
        AddNightlyDumps(Dec3.AddDays(-1), count: 2, bytes: 2_000_000);
        AddDump(Dec3 + new TimeSpan(0, 1, 12), bytes: 1000);
        var check = Check("""  "maxAge": "25h", "grace": "1h", "minSize": "1MB" """);

        At(Dec3 + new TimeSpan(0, 20, 0));
        var writing = await RunAsync(check);
        Assert.Equal(CheckState.OK, writing.State);
        Assert.Equal(
            "newest dump-2026-12-02-00:01:12 is 1d18m old (max 1d1h); dump-2026-12-03-00:01:12 still being written (1000B so far, under minSize 976.56KiB, younger than the 1h grace); 3 dumps",
            writing.Message);
        Assert.Equal("dump-2026-12-03-00:01:12", (string)writing.Details!["inProgress"]![0]!["name"]!);

        At(Dec3 + new TimeSpan(1, 1, 12));
        var failed = await RunAsync(check);
        Assert.Equal(CheckState.CRITICAL, failed.State);
        Assert.Contains("dump-2026-12-03-00:01:12 is 1000B, under minSize 976.56KiB: likely a failed dump", failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_first_dump_still_being_written_is_no_complete_dump()
    {
        AddDump(Dec3 + new TimeSpan(0, 1, 12), bytes: 1000);
        At(Dec3 + new TimeSpan(0, 5, 0));

        var outcome = await RunAsync(Check("""  "maxAge": "25h", "minSize": "1MB" """));

        Assert.Equal(CheckState.CRITICAL, outcome.State);
        Assert.Equal($"no complete dump in {Backups}; dump-2026-12-03-00:01:12 still being written (1000B so far, under minSize 976.56KiB, younger than the 1h grace); 1 dump", outcome.Message);
    }

    [Fact]
    public async Task Dumps_may_be_files_and_their_size_is_the_file_length()
    {
        File.WriteAllBytes(Path.Combine(Backups, "db-20261202T0001.sql.gz"), new byte[4096]);
        File.WriteAllBytes(Path.Combine(Backups, "db-20261203T0001.sql.gz"), new byte[300]);
        At(Dec3 + new TimeSpan(5, 0, 0));

        var outcome = await RunAsync(Check("""  "pattern": "db-{yyyyMMdd'T'HHmm}.sql.gz", "maxAge": "25h", "minSize": "1KiB" """));

        Assert.Equal(CheckState.CRITICAL, outcome.State);
        Assert.Equal("newest db-20261203T0001.sql.gz is 4h59m old (max 1d1h); db-20261203T0001.sql.gz is 300B, under minSize 1KiB: likely a failed dump; 2 dumps", outcome.Message);
        Assert.Equal("file", (string)outcome.Details!["newest"]!["type"]!);
        Assert.True((bool)outcome.Details["newest"]!["sizeExact"]!);
    }

    [Fact]
    public async Task Names_that_do_not_match_are_ignored_and_counted_and_names_win_over_modification_times()
    {
        AddNightlyDumps(Dec3.AddDays(-2), count: 2);
        Directory.CreateDirectory(Path.Combine(Backups, "lost+found"));
        Directory.CreateDirectory(Path.Combine(Backups, "dump-2026-12-03-00:01")); // cut name
        File.WriteAllText(Path.Combine(Backups, "notes.txt"), "restore: see the runbook");
        File.WriteAllText(Path.Combine(Backups, ".dump-2026-12-03-00:01:12"), "");
        foreach (string dump in Directory.GetDirectories(Backups, "dump-*"))
        {
            Directory.SetLastWriteTimeUtc(dump, DateTime.UtcNow); // touched by a restore test: not a new dump
        }

        At(Dec3 + new TimeSpan(10, 0, 0));
        var outcome = await RunAsync(Check("""  "schedule": "1 0 * * *" """));

        Assert.Equal(CheckState.CRITICAL, outcome.State);
        Assert.StartsWith("no dump for the run of 2026-12-03T00:01:00Z", outcome.Message, StringComparison.Ordinal);
        Assert.EndsWith("newest dump-2026-12-01-00:01:12 is 2d9h58m old; 2 dumps", outcome.Message, StringComparison.Ordinal);
        Assert.Equal(4, (int)outcome.Details!["ignored"]!);
        Assert.Equal(4, outcome.Details["ignoredNames"]!.AsArray().Count);
    }

    [Fact]
    public async Task Names_are_read_in_the_configured_time_zone()
    {
        AddDump(Dec3 + new TimeSpan(1, 1, 12)); // written by a job whose clock shows Paris time: 00:01:12 UTC
        At(Dec3 + new TimeSpan(2, 0, 0));

        var outcome = await RunAsync(Check("""  "schedule": "1 1 * * *", "timeZone": "Europe/Paris" """));

        Assert.Equal(CheckState.OK, outcome.State);
        Assert.Equal("2026-12-03T00:01:12Z", (string)outcome.Details!["newest"]!["time"]!);
        Assert.Contains("run of 2026-12-03T00:01:00Z (cron 1 1 * * * (Europe/Paris)", outcome.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dump_dated_in_the_future_is_a_WARNING_about_the_time_zone()
    {
        AddDump(Dec3 + new TimeSpan(1, 1, 12)); // Paris time read as UTC: one hour ahead
        At(Dec3 + new TimeSpan(0, 30, 0));

        var outcome = await RunAsync(Check("""  "maxAge": "25h" """));

        Assert.Equal(CheckState.WARNING, outcome.State);
        Assert.Contains("newest dump-2026-12-03-01:01:12 is dated 31m12s in the future", outcome.Message, StringComparison.Ordinal);
        Assert.Contains("in the future: check the timeZone option (UTC) and the clocks", outcome.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_empty_folder_is_CRITICAL()
    {
        Directory.CreateDirectory(Path.Combine(Backups, "tmp"));
        At(Dec3);

        var outcome = await RunAsync(Check("""  "maxAge": "25h" """));

        Assert.Equal(CheckState.CRITICAL, outcome.State);
        Assert.Equal($"no dump in {Backups} named dump-{{yyyy-MM-dd-HH:mm:ss}} (1 other entries ignored, e.g. \"tmp\")", outcome.Message);
        Assert.Equal(0, Perf(outcome, "dumps"));
    }

    [Fact]
    public async Task A_missing_folder_or_a_file_in_its_place_is_CRITICAL_with_the_reason()
    {
        string missing = Path.Combine(Backups, "not-mounted");
        var gone = await RunAsync(Check("""  "maxAge": "25h" """, missing));
        Assert.Equal(CheckState.CRITICAL, gone.State);
        Assert.Equal($"{missing} does not exist (ENOENT): no backups there (volume not mounted?)", gone.Message);

        string file = Path.Combine(Backups, "backups.tar");
        File.WriteAllText(file, "");
        var notFolder = await RunAsync(Check("""  "maxAge": "25h" """, file));
        Assert.Equal(CheckState.CRITICAL, notFolder.State);
        Assert.Equal($"{file} is a file, not a folder (ENOTDIR)", notFolder.Message);
    }

    [Fact]
    public async Task An_unreadable_folder_is_UNKNOWN_permission_denied()
    {
        string locked = Path.Combine(Backups, "locked");
        Directory.CreateDirectory(locked);
        AddDump(Dec3);
        File.SetUnixFileMode(locked, UnixFileMode.None);
        try
        {
            bool stillReadable;
            try
            {
                _ = Directory.GetFileSystemEntries(locked);
                stillReadable = true;
            }
            catch (UnauthorizedAccessException)
            {
                stillReadable = false;
            }

            Assert.SkipWhen(stillReadable, "this process reads any folder (root or CAP_DAC_OVERRIDE): mode 000 denies nothing here");
            var outcome = await RunAsync(Check("""  "maxAge": "25h" """, locked));
            Assert.Equal(CheckState.UNKNOWN, outcome.State);
            Assert.Equal($"permission denied (EACCES) reading {locked}: give the agent read access to the backup folder", outcome.Message);
        }
        finally
        {
            File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    [Fact]
    public void Permission_denied_is_UNKNOWN_and_other_read_errors_CRITICAL()
    {
        var o = Assert.IsType<BackupFreshnessOptions>(Check("""  "maxAge": "25h" """).Options);
        static DumpSize Never(Dump d, long? s) => throw new InvalidOperationException("nothing to size");
        var denied = BackupSetVerdict.Evaluate(o, new BackupListing([], 0, [], false, FolderProblem.PermissionDenied, "permission denied (EACCES) reading /b"), Never, Dec3);
        Assert.Equal(CheckState.UNKNOWN, denied.State);
        var io = BackupSetVerdict.Evaluate(o, new BackupListing([], 0, [], false, FolderProblem.IoError, "cannot read /b: Stale file handle"), Never, Dec3);
        Assert.Equal(CheckState.CRITICAL, io.State);
        Assert.Equal("cannot read /b: Stale file handle", io.Message);
    }
}