using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary><c>tocsin start --once</c>, <c>start</c> with a broken configuration, and <c>--version</c>, as child processes.</summary>
public sealed class StartCommandTests(TargetServer target) : IClassFixture<TargetServer>, IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Start_with_config_errors_exits_78_listing_every_error_with_file_check_field_and_value()
    {
        string config = _folder.Write("config.json", """
            {
              "localDatabasePath": "./outbox.db",
              "checks": [
                { "name": "a", "kind": "http", "url": "nope", "interval": "0s" },
                { "name": "b", "kind": "tcp", "host": "127.0.0.1", "port": 99999 }
              ]
            }
            """);

        var run = await TocsinProcess.RunAsync(_folder.Path, "start", "--config-path", config);

        Assert.True(run.ExitCode == 78, run.ToString());
        Assert.Contains("3 configuration error(s)", run.Stderr, StringComparison.Ordinal);
        Assert.Contains($"{config}: checks[0] \"a\": field \"interval\" = \"0s\"", run.Stderr, StringComparison.Ordinal);
        Assert.Contains($"{config}: checks[0] \"a\": field \"url\" = \"nope\"", run.Stderr, StringComparison.Ordinal);
        Assert.Contains($"{config}: checks[1] \"b\": field \"port\" = 99999", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(_folder.File("outbox.db")));
    }

    [Fact]
    public async Task Start_once_exits_0_when_every_check_is_OK_and_prints_a_table_of_results()
    {
        // --once runs each check once; a long interval gives the runs an 8 s timeout, so a loaded machine does not fail them.
        string config = AgentConfig.Write(_folder, AgentConfig.Http("web ok", target.Url("/ok"), "10s"), AgentConfig.Tcp("web port", target.Port, "10s"));

        var run = await TocsinProcess.RunAsync(_folder.Path, "start", "--once", "--config-path", config);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches(@"│\s*Check\s*│\s*State\s*│\s*ms\s*│\s*Message\s*│", run.Stdout);
        Assert.Contains("web ok", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("web port", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("OK", run.Stdout, StringComparison.Ordinal);
        Assert.Equal(2, OutboxFile.CountResults(AgentConfig.OutboxPath(_folder)));
    }

    [Fact]
    public async Task Start_once_exits_2_when_one_check_is_CRITICAL()
    {
        string config = AgentConfig.Write(_folder, AgentConfig.Http("web ok", target.Url("/ok"), "10s"), AgentConfig.Http("web 500", target.Url("/500"), "10s"));

        var run = await TocsinProcess.RunAsync(_folder.Path, "start", "--once", "--config-path", config);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("web 500", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("CRITICAL", run.Stdout, StringComparison.Ordinal);
        Assert.Equal(2, OutboxFile.CountResults(AgentConfig.OutboxPath(_folder)));
    }

    [Fact]
    public async Task Seed_004_file_runs_with_start_once_storing_results_at_its_local_database_path()
    {
        string config = _folder.Write("monitoring-config", $$"""
            {
              "local_database_path": "./local-database.sqlite3",
              "external_database_uri": "postgresql://test:1234567890@127.0.0.1:5432/test",
              "services": [
                { "url": "{{target.Url("/ok")}}", "method": "GET", "check_regex": false, "regex": null, "interval_sec": 5, "timeout": 15 },
                { "url": "{{target.Url("/ok?again")}}", "method": "GET", "check_regex": true, "regex": "Example", "interval_sec": 5, "timeout": 15 }
              ]
            }
            """);

        var run = await TocsinProcess.RunAsync(_folder.Path, "start", "--once", "--config-path", config);

        Assert.True(run.ExitCode == 0, run.ToString());
        string outbox = _folder.File("local-database.sqlite3");
        Assert.Equal(1, OutboxFile.CountResults(outbox, "GET " + target.Url("/ok")));
        Assert.Equal(1, OutboxFile.CountResults(outbox, "GET " + target.Url("/ok?again")));
    }

    [Fact]
    public async Task Version_option_prints_the_version()
    {
        var run = await TocsinProcess.RunAsync(_folder.Path, "--version");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches(@"^\d+\.\d+\.\d+", run.Stdout);
        Assert.StartsWith(VersionInfo.Version, run.Stdout.Trim(), StringComparison.Ordinal);
    }
}
