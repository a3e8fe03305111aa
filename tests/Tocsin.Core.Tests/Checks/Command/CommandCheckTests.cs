using System.Diagnostics;
using Tocsin.Checks;
using Tocsin.Checks.Command;

namespace Tocsin.Core.Tests.Checks.Command;

/// <summary>The <c>command</c> kind with real child processes: small /bin/sh scripts in a temp folder.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class CommandCheckTests : IDisposable
{
    private readonly CommandHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public async Task Status_json_on_stdout_gives_state_message_and_keeps_other_fields()
    {
        var result = await _h.RunScriptAsync("""echo '{"status": "OK", "message": "all fine", "title": "disk", "change-time": 1700000000}'""");

        Assert.Equal(CheckState.OK, result.State);
        Assert.Equal("all fine", result.Message);
        Assert.Equal("command", result.Kind);
        var d = result.Details!;
        Assert.Equal("status.json", d["format"]!.GetValue<string>());
        Assert.Equal("disk", d["fields"]!["title"]!.GetValue<string>());
        Assert.Equal(1700000000, d["fields"]!["change-time"]!.GetValue<long>());
        Assert.Null(d["fields"]!["status"]);
        Assert.Equal(0, d["exitCode"]!.GetValue<int>());
    }

    [Fact]
    public async Task Status_json_error_is_critical()
    {
        var result = await _h.RunScriptAsync("""echo '{"status": "ERROR", "message": "backup is 3 days old"}'""");

        Assert.Equal(CheckState.CRITICAL, result.State);
        Assert.Equal("backup is 3 days old", result.Message);
    }

    [Fact]
    public async Task Status_json_ok_with_a_non_zero_exit_is_not_ok()
    {
        var result = await _h.RunScriptAsync("""echo '{"status": "OK", "message": "looks fine"}'; exit 2""");

        Assert.Equal(CheckState.CRITICAL, result.State);
        Assert.Equal("looks fine (exit code 2)", result.Message);
    }

    [Fact]
    public async Task Status_json_without_message_uses_stderr_when_it_failed_and_the_state_when_it_did_not()
    {
        var failed = await _h.RunScriptAsync("""echo '{"title": "x"}'; echo 'cannot read /srv' >&2; exit 1""");
        var ok = await _h.RunScriptAsync("""echo '{"status": "WARNING"}'""");

        Assert.Equal(CheckState.CRITICAL, failed.State);
        Assert.Equal("cannot read /srv", failed.Message);
        Assert.Equal("cannot read /srv\n", failed.Details!["stderr"]!.GetValue<string>());
        Assert.Equal(CheckState.WARNING, ok.State);
        Assert.Equal("WARNING", ok.Message);
    }

    [Fact]
    public async Task Invalid_json_falls_through_to_plain_output()
    {
        var result = await _h.RunScriptAsync("""echo '{"status": "ERROR", "message": '; exit 0""");

        Assert.Equal(CheckState.OK, result.State);
        Assert.Equal("""{"status": "ERROR", "message":""", result.Message);
        Assert.Equal("plain", result.Details!["format"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(0, CheckState.OK)]
    [InlineData(1, CheckState.WARNING)]
    [InlineData(2, CheckState.CRITICAL)]
    [InlineData(3, CheckState.UNKNOWN)]
    [InlineData(42, CheckState.CRITICAL)]
    public async Task Nagios_exit_codes_map_to_states(int exitCode, CheckState expected)
    {
        // The exit code decides, whatever word the text holds.
        var result = await _h.RunScriptAsync($"echo 'DISK OK - free space: / 3326 MB (56%)'; exit {exitCode}");

        Assert.Equal(expected, result.State);
        Assert.Equal("DISK OK - free space: / 3326 MB (56%)", result.Message);
        Assert.Equal("nagios", result.Details!["format"]!.GetValue<string>());
        Assert.Equal(exitCode, result.Details!["exitCode"]!.GetValue<int>());
    }

    [Theory]
    [InlineData(0, CheckState.OK)]
    [InlineData(1, CheckState.CRITICAL)]
    [InlineData(3, CheckState.CRITICAL)]
    [InlineData(42, CheckState.CRITICAL)]
    public async Task Plain_output_is_ok_on_exit_0_and_critical_otherwise(int exitCode, CheckState expected)
    {
        var result = await _h.RunScriptAsync($"echo 'queue length 12'; exit {exitCode}");

        Assert.Equal(expected, result.State);
        Assert.Equal("queue length 12", result.Message);
        Assert.Equal("plain", result.Details!["format"]!.GetValue<string>());
    }

    [Fact]
    public async Task Plain_output_takes_the_message_from_stderr_when_stdout_is_empty()
    {
        var result = await _h.RunScriptAsync("echo 'connection refused' >&2; exit 1");
        var silent = await _h.RunScriptAsync("exit 5");

        Assert.Equal(CheckState.CRITICAL, result.State);
        Assert.Equal("connection refused", result.Message);
        Assert.Equal("exit code 5", silent.Message);
    }

    [Fact]
    public async Task Nagios_perfdata_with_quotes_units_empty_fields_and_several_lines_goes_to_details()
    {
        var result = await _h.RunScriptAsync("""
            echo "DISK WARNING - free space: / 3326 MB (9%) | '/ free'=3326MB;4000;2000;0;36000 'it''s'=9%;;;;"
            echo "/boot is fine"
            echo "/home is fine | time=0.012s;;;0"
            echo "load=U"
            exit 1
            """);

        Assert.Equal(CheckState.WARNING, result.State);
        Assert.Equal("DISK WARNING - free space: / 3326 MB (9%)", result.Message);
        var d = result.Details!;
        Assert.Equal("nagios", d["format"]!.GetValue<string>());
        Assert.Equal("/boot is fine\n/home is fine", d["longOutput"]!.GetValue<string>());
        var perf = d["perfdata"]!.AsArray();
        Assert.Equal(4, perf.Count);
        Assert.Equal("/ free", perf[0]!["label"]!.GetValue<string>());
        Assert.Equal(3326, perf[0]!["value"]!.GetValue<double>());
        Assert.Equal("MB", perf[0]!["unit"]!.GetValue<string>());
        Assert.Equal("4000", perf[0]!["warn"]!.GetValue<string>());
        Assert.Equal("2000", perf[0]!["crit"]!.GetValue<string>());
        Assert.Equal(0, perf[0]!["min"]!.GetValue<double>());
        Assert.Equal(36000, perf[0]!["max"]!.GetValue<double>());
        Assert.Equal("it's", perf[1]!["label"]!.GetValue<string>());
        Assert.Equal("%", perf[1]!["unit"]!.GetValue<string>());
        Assert.Null(perf[1]!["warn"]);
        Assert.Null(perf[1]!["max"]);
        Assert.Equal("time", perf[2]!["label"]!.GetValue<string>());
        Assert.Equal(0.012, perf[2]!["value"]!.GetValue<double>());
        Assert.Equal("s", perf[2]!["unit"]!.GetValue<string>());
        Assert.Equal("load", perf[3]!["label"]!.GetValue<string>());
        Assert.Null(perf[3]!["value"]);
    }

    [Fact]
    public async Task Timeout_kills_a_child_that_ignores_sigterm_and_its_grandchild()
    {
        string dir = _h.Folder;
        var check = _h.Check([_h.Script("stubborn", $$"""
            trap '' TERM
            sleep 1000 &
            echo $! > '{{dir}}/grandchild.pid'
            read -r pid comm state ppid pgrp rest < /proc/$$/stat
            echo $pgrp > '{{dir}}/pgrp'
            echo $$ > '{{dir}}/child.pid'
            while :; do sleep 0.05; done
            """)], """, "timeout": "1s" """);

        var sw = Stopwatch.StartNew();
        var result = await _h.RunAsync(check);
        sw.Stop();

        Assert.Equal(CheckState.CRITICAL, result.State);
        Assert.Equal("timed out after 1 s", result.Message);
        Assert.True(result.Details!["timedOut"]!.GetValue<bool>());
        Assert.Equal("SIGKILL", result.Details["killSignal"]!.GetValue<string>());
        int child = _h.ReadPid("child.pid");
        Assert.Equal(child, result.Details["pid"]!.GetValue<int>());
        Assert.Equal(child, _h.ReadPid("pgrp")); // setsid made the command its own group leader
        Assert.True(CommandHarness.IsGone(child), "the child survived");
        Assert.True(CommandHarness.IsGone(_h.ReadPid("grandchild.pid")), "the grandchild survived");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");
    }

    [Fact]
    public async Task Timeout_sigterms_the_whole_group_including_a_background_grandchild()
    {
        string dir = _h.Folder;
        var check = _h.Check([_h.Script("spawner", $$"""
            sleep 1000 &
            echo $! > '{{dir}}/grandchild.pid'
            echo $$ > '{{dir}}/child.pid'
            echo 'started'
            wait
            """)], """, "timeout": "1s" """);

        var result = await _h.RunAsync(check);

        Assert.Equal(CheckState.CRITICAL, result.State);
        Assert.Equal("timed out after 1 s", result.Message);
        Assert.Equal("SIGTERM", result.Details!["killSignal"]!.GetValue<string>());
        Assert.Equal("started\n", result.Details["stdout"]!.GetValue<string>());
        Assert.True(CommandHarness.IsGone(_h.ReadPid("child.pid")), "the child survived");
        Assert.True(CommandHarness.IsGone(_h.ReadPid("grandchild.pid")), "the grandchild survived");
    }

    [Fact]
    public async Task Processes_left_behind_after_a_normal_exit_are_killed()
    {
        string dir = _h.Folder;
        var result = await _h.RunScriptAsync($$"""
            sleep 1000 > /dev/null 2>&1 &
            echo $! > '{{dir}}/grandchild.pid'
            echo 'OK - done'
            """);

        Assert.Equal(CheckState.OK, result.State);
        Assert.True(result.Details!["leftoverProcessesKilled"]!.GetValue<bool>());
        Assert.True(CommandHarness.IsGone(_h.ReadPid("grandchild.pid")), "the leftover process survived");
    }

    [Fact]
    public async Task Stopping_the_agent_kills_the_group_and_cancels_the_run()
    {
        string dir = _h.Folder;
        var check = _h.Check([_h.Script("long", $$"""
            echo $$ > '{{dir}}/child.pid'
            sleep 1000
            """)], """, "timeout": "20s" """);
        using var stop = new CancellationTokenSource();
        var run = _h.Runner.RunAsync(check, stop.Token);
        await WaitForFileAsync(_h.File("child.pid"));

        await stop.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.True(CommandHarness.IsGone(_h.ReadPid("child.pid")), "the child survived the stop");
    }

    [Fact]
    public async Task Ten_megabytes_of_output_are_capped_without_hanging()
    {
        var result = await _h.RunScriptAsync("""
            head -c 10485760 /dev/zero | tr '\0' 'a' &
            head -c 10485760 /dev/zero | tr '\0' 'b' >&2
            wait
            """, """, "timeout": "20s" """);

        Assert.Equal(CheckState.OK, result.State);
        var d = result.Details!;
        Assert.Equal(10485760, d["stdoutBytes"]!.GetValue<long>());
        Assert.Equal(10485760, d["stderrBytes"]!.GetValue<long>());
        Assert.True(d["stdoutTruncated"]!.GetValue<bool>());
        Assert.True(d["stderrTruncated"]!.GetValue<bool>());
        Assert.True(result.Message.Length <= CommandContract.MaxMessageChars + 1);
        Assert.StartsWith("aaaa", result.Message, StringComparison.Ordinal);
        Assert.True(d["stdout"]!.GetValue<string>().Length <= CommandContract.MaxExcerptChars + 1);
    }

    [Fact]
    public async Task Output_that_is_not_utf8_stays_readable()
    {
        var result = await _h.RunScriptAsync("""printf 'caf\351 \377\376 ok\n'""");

        Assert.Equal(CheckState.OK, result.State);
        Assert.Equal("caf\uFFFD \uFFFD\uFFFD ok", result.Message);
        Assert.False(result.Details!["stdoutTruncated"]!.GetValue<bool>());
    }

    [Fact]
    public async Task A_missing_executable_is_unknown_with_the_reason()
    {
        string missing = _h.File("no-such-promise");
        var result = await _h.RunAsync(_h.Check([missing]));
        var notInPath = await _h.RunAsync(_h.Check(["tocsin-no-such-plugin"]));

        Assert.Equal(CheckState.UNKNOWN, result.State);
        Assert.Equal($"executable not found: {missing}", result.Message);
        Assert.Equal(CheckState.UNKNOWN, notInPath.State);
        Assert.Equal("executable not found in PATH: tocsin-no-such-plugin", notInPath.Message);
    }

    [Fact]
    public async Task A_file_that_is_not_executable_is_unknown_with_the_reason()
    {
        string path = _h.File("plain.sh");
        await File.WriteAllTextAsync(path, "#!/bin/sh\necho hi\n", TestContext.Current.CancellationToken);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var result = await _h.RunAsync(_h.Check([path]));

        Assert.Equal(CheckState.UNKNOWN, result.State);
        Assert.Equal($"not executable: {path} (mode 0600, no execute permission)", result.Message);
    }

    [Fact]
    public async Task A_bad_interpreter_line_is_unknown_with_the_reason_from_exec()
    {
        string path = _h.Script("bad-interpreter", "echo hi");
        await File.WriteAllTextAsync(path, "#!/no/such/interpreter\necho hi\n", TestContext.Current.CancellationToken);

        var result = await _h.RunAsync(_h.Check([path]));

        Assert.Equal(CheckState.UNKNOWN, result.State);
        Assert.StartsWith($"cannot run: failed to execute {path}: No such file or directory", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_command_killed_by_a_signal_is_unknown()
    {
        var result = await _h.RunScriptAsync("echo 'about to die'; kill -KILL $$");

        Assert.Equal(CheckState.UNKNOWN, result.State);
        Assert.Equal("killed by signal 9 (SIGKILL)", result.Message);
        Assert.Equal(9, result.Details!["signal"]!.GetValue<int>());
    }

    [Fact]
    public async Task Shell_true_runs_one_string_with_bin_sh()
    {
        var check = _h.Parse("""{ "name": "sh", "kind": "command", "shell": true, "command": "n=$((40 + 2)); echo \"answer $n\" | tr a A" }""");

        var result = await _h.RunAsync(check);

        Assert.Equal(CheckState.OK, result.State);
        Assert.Equal("Answer 42", result.Message);
    }

    [Fact]
    public async Task Arguments_are_passed_without_a_shell()
    {
        string script = _h.Script("args", """printf '%s|' "$@"; echo""");

        var result = await _h.RunAsync(_h.Check([script, "a b", "$HOME", "*", "'q'"]));

        Assert.Equal("a b|$HOME|*|'q'|", result.Message);
    }

    [Fact]
    public async Task Env_is_added_to_the_inherited_environment_and_working_directory_is_used()
    {
        string work = Directory.CreateDirectory(_h.File("work")).FullName;
        string script = _h.Script("env", """echo "$TOCSIN_TEST_VAR|$(pwd)|${PATH:+has-path}" """);

        var result = await _h.RunAsync(_h.Check([script], $$""", "env": { "TOCSIN_TEST_VAR": "hello world" }, "workingDirectory": "{{work}}" """));

        Assert.Equal(CheckState.OK, result.State);
        Assert.Equal($"hello world|{work}|has-path", result.Message);
    }

    [Fact]
    public async Task A_missing_working_directory_is_unknown()
    {
        string missing = _h.File("gone");
        var result = await _h.RunAsync(_h.Check(["/bin/true"], $$""", "workingDirectory": "{{missing}}" """));

        Assert.Equal(CheckState.UNKNOWN, result.State);
        Assert.Equal($"working directory not found: {missing}", result.Message);
    }

    [Fact]
    public async Task The_global_limit_bounds_processes_in_flight()
    {
        using var h = new CommandHarness(new CommandRunnerOptions { MaxProcesses = 2 });
        string dir = h.Folder;
        string script = h.Script("slow", $$"""
            touch '{{dir}}/running.'$$
            ls '{{dir}}' | grep -c '^running\.' >> '{{dir}}/counts'
            sleep 0.3
            rm '{{dir}}/running.'$$
            echo done
            """);
        var check = h.Check([script], """, "timeout": "20s" """);

        var sw = Stopwatch.StartNew();
        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => h.Runner.RunAsync(check, TestContext.Current.CancellationToken)));
        sw.Stop();

        Assert.All(results, r => Assert.Equal(CheckState.OK, r.State));
        Assert.Equal(2, h.Runner.PeakRunning);
        Assert.Equal(0, h.Runner.Running);
        var counts = (await File.ReadAllLinesAsync(h.File("counts"), TestContext.Current.CancellationToken)).Select(int.Parse).ToList();
        Assert.Equal(6, counts.Count);
        Assert.True(counts.Max() <= 2, $"seen {counts.Max()} at once");
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(850), $"6 runs of 0.3 s two at a time took only {sw.Elapsed}");
    }

    [Fact]
    public async Task A_run_that_gets_no_slot_within_half_its_timeout_is_unknown_and_starts_nothing()
    {
        using var h = new CommandHarness(new CommandRunnerOptions { MaxProcesses = 1, KillGrace = TimeSpan.FromMilliseconds(200) });
        var slow = h.Check([h.Script("slow", "sleep 3")], """, "timeout": "5s" """);
        var waiter = h.Check([h.Script("marker", $"touch '{h.File("started")}'")], """, "timeout": "1s" """);
        var first = h.Runner.RunAsync(slow, TestContext.Current.CancellationToken);
        while (h.Runner.Running == 0)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        var sw = Stopwatch.StartNew();
        var waiting = await h.Runner.RunAsync(waiter, TestContext.Current.CancellationToken);
        sw.Stop();

        Assert.Equal(CheckState.UNKNOWN, waiting.State);
        Assert.Equal("did not start: no process slot within 0.5 s (all 1 busy; a command starts only with at least 0.5 s of its 1 s timeout left)", waiting.Message);
        Assert.True(waiting.Details!["notStarted"]!.GetValue<bool>());
        // About 0.5 s; the bound above is loose for loaded CI machines but well before the slow run ends (3 s).
        Assert.InRange(sw.Elapsed, TimeSpan.FromMilliseconds(450), TimeSpan.FromMilliseconds(2500));
        Assert.False(File.Exists(h.File("started")), "the command was started although it got no slot");
        Assert.Equal(CheckState.OK, (await first).State);
        Assert.False(File.Exists(h.File("started")));
    }

    [Fact]
    public async Task Through_the_executor_a_run_refused_a_slot_is_unknown_not_a_timeout()
    {
        using var h = new CommandHarness(new CommandRunnerOptions { MaxProcesses = 1, KillGrace = TimeSpan.FromMilliseconds(200) });
        var slow = h.Check([h.Script("slow", "sleep 2")], """, "timeout": "5s" """);
        var waiter = h.Check([h.Script("marker", $"touch '{h.File("started")}'")], """, "timeout": "600ms" """);
        var first = h.RunAsync(slow);
        while (h.Runner.Running == 0)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        var waiting = await h.RunAsync(waiter);

        Assert.Equal(CheckState.UNKNOWN, waiting.State);
        Assert.StartsWith("did not start: no process slot within 0.3 s", waiting.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(h.File("started")));
        Assert.Equal(CheckState.OK, (await first).State);
    }

    [Fact]
    public async Task A_run_that_gets_its_slot_in_time_runs_to_the_end_and_the_timeout_still_bounds_the_whole_run()
    {
        // The holder keeps the only slot until the test creates its release file, so how long the others wait is
        // the test's choice, not the machine's speed (a loaded CI machine once stretched a "sleep 0.6" holder past
        // the waiter's whole slot budget).
        using var h = new CommandHarness(new CommandRunnerOptions { MaxProcesses = 1, KillGrace = TimeSpan.FromMilliseconds(200) });
        string release = h.File("release");
        var holder = h.Check([h.Script("holder", $"while [ ! -e '{release}' ]; do sleep 0.02; done")], """, "timeout": "20s" """);
        var fits = h.Check([h.Script("fits", "sleep 0.5; echo 'OK - done'")], """, "timeout": "6s" """);
        var tooLong = h.Check([h.Script("toolong", $"touch '{h.File("long-started")}'; sleep 30")], """, "timeout": "4s" """);

        async Task<Task<RunOutcome>> HoldTheSlotAsync()
        {
            File.Delete(release);
            var held = h.Runner.RunAsync(holder, TestContext.Current.CancellationToken);
            while (h.Runner.Running == 0)
            {
                await Task.Delay(10, TestContext.Current.CancellationToken);
            }

            return held;
        }

        // Waits ~0.5 s of its 3 s slot budget, then runs its 0.5 s: OK.
        var first = await HoldTheSlotAsync();
        var waiting = h.Runner.RunAsync(fits, TestContext.Current.CancellationToken);
        await Task.Delay(500, TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(release, "", TestContext.Current.CancellationToken);
        var ok = await waiting;
        Assert.Equal(CheckState.OK, ok.State);
        Assert.Equal("OK - done", ok.Message);
        Assert.Equal(CheckState.OK, (await first).State);

        // Waits ~1 s of its 2 s slot budget, starts, and is killed 4 s from the run's start (counted from its slot,
        // the kill would come at 5 s or later).
        first = await HoldTheSlotAsync();
        var sw = Stopwatch.StartNew();
        var running = h.Runner.RunAsync(tooLong, TestContext.Current.CancellationToken);
        await Task.Delay(1000, TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(release, "", TestContext.Current.CancellationToken);
        var killed = await running;
        sw.Stop();
        Assert.Equal(CheckState.CRITICAL, killed.State);
        Assert.Equal("timed out after 4 s", killed.Message);
        Assert.True(File.Exists(h.File("long-started")));
        Assert.InRange(sw.Elapsed, TimeSpan.FromMilliseconds(3900), TimeSpan.FromMilliseconds(4000 + 200 + 700));
        await first;
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.5)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void A_slot_wait_outside_0_to_1_is_refused(double part) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new CommandRunner(TimeProvider.System, new CommandRunnerOptions { MaxSlotWait = part }));

    private static async Task WaitForFileAsync(string path)
    {
        var sw = Stopwatch.StartNew();
        while (!File.Exists(path) || new FileInfo(path).Length == 0)
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"{path} never appeared");
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
    }
}
