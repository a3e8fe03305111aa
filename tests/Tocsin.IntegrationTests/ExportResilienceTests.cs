using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Npgsql;
using Tocsin.Core.Tests.TestServers;
using Tocsin.Diagnostics;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary>
/// <c>tocsin start</c> processes exporting to a real PostgreSQL that fails them: killed between the central
/// commit and the local mark, a central database that cannot be reached or wants TLS, PostgreSQL stopped
/// for a while. Every result produced arrives once, and the agent keeps checking meanwhile.
/// </summary>
public sealed class ExportResilienceTests(PostgresServer server) : IClassFixture<PostgresServer>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private Dictionary<string, string?> PasswordEnv() => new() { ["TOCSIN_PG_PASSWORD"] = server.Password };

    private static string Uri(NpgsqlConnectionStringBuilder b, string? host = null, int? port = null, string? password = null, string? query = null) =>
        $"postgresql://{b.Username}{(password is null ? "" : ":" + password)}@{host ?? b.Host}:{port ?? b.Port}/{b.Database}{(query is null ? "" : "?" + query)}";

    private static int ClosedPort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port; // Nothing listens once the listener is gone.
    }

    /// <summary>Every local result is in PostgreSQL exactly once, nothing else is, and nothing waits in the outbox.</summary>
    private static void AssertExactlyOnce(string cs, string outbox)
    {
        var (local, unexported) = OutboxFile.Ids(outbox);
        Assert.Empty(unexported);
        var (rows, distinct) = CentralTables.CountRowsAndIds(cs);
        Assert.Equal(rows, distinct);
        var central = CentralTables.ResultIds(cs);
        Assert.Equal(local.Count, central.Count);
        Assert.Empty(local.Except(central));
    }

    private static async Task StopCleanlyAsync(TocsinProcess agent)
    {
        agent.Signal("TERM");
        int code = await agent.WaitForExitAsync(TimeSpan.FromSeconds(45));
        Assert.True(code == 0, $"exit code {code}{Environment.NewLine}{agent.Output}");
    }

    [Fact]
    public async Task Agent_killed_after_the_central_commit_and_before_the_local_mark_resends_rows_that_postgres_ignores()
    {
        await using var target = await TargetServer.StartAsync();
        using var folder = new TempFolder();
        string cs = await server.CreateDatabaseAsync();
        var b = new NpgsqlConnectionStringBuilder(cs);
        string config = AgentConfig.Write(folder, [.. Enumerable.Range(0, 10).Select(i => AgentConfig.Tcp($"tcp {i}", target.Port))]);
        AgentConfig.Edit(config, root => root["externalDatabaseUri"] = Uri(b));
        string outbox = AgentConfig.OutboxPath(folder);

        // The third batch that reaches PostgreSQL is the last: the process SIGKILLs itself right after its commit.
        var env = PasswordEnv();
        env[FailPoints.EnvironmentVariable] = $"{FailPoints.ExportAfterCentralCommit}=kill@3";
        await using (var doomed = TocsinProcess.Start(folder.Path, ["start", "--config-path", config], env))
        {
            int code = await doomed.WaitForExitAsync(Deadline);
            Assert.True(code == 137, $"expected death by SIGKILL (137), got {code}{Environment.NewLine}{doomed.Output}");
            Assert.NotNull(doomed.FindLog($"Fail point {FailPoints.ExportAfterCentralCommit} is armed"));
        }

        // Committed centrally, not marked locally: exactly what the next start must re-send harmlessly.
        var (all, pending) = OutboxFile.Ids(outbox);
        var central = CentralTables.ResultIds(cs);
        var inFlight = pending.Intersect(central).ToHashSet();
        Assert.NotEmpty(inFlight);
        // The two batches before it were committed and marked: the kill came in the middle of steady exporting.
        Assert.NotEmpty(all.Except(pending));
        Assert.Subset(central, all.Except(pending).ToHashSet());

        await using var again = TocsinProcess.Start(folder.Path, ["start", "--config-path", config], PasswordEnv());
        await Poll.UntilAsync(() => ResentLogged(again) >= inFlight.Count, ok => ok, Deadline, "the re-sent rows to be reported as ignored", () => again.Output);
        await Poll.UntilAsync(() => CentralTables.CountResults(cs), n => n >= OutboxFile.CountResults(outbox) - 10, Deadline, "the backlog to drain", () => again.Output);
        await StopCleanlyAsync(again);

        Assert.Equal(inFlight.Count, ResentLogged(again));
        Assert.Null(again.FindLog("Fail point"));
        AssertExactlyOnce(cs, outbox);
        Assert.DoesNotContain(server.Password, again.Output, StringComparison.Ordinal);
    }

    /// <summary>Rows the agent reported as already in PostgreSQL (the "… were already in PostgreSQL …" lines).</summary>
    private static int ResentLogged(TocsinProcess agent) =>
        agent.LogLines()
            .Where(l => l.TryGetProperty("Message", out var m) && m.GetString()!.Contains("were already in PostgreSQL", StringComparison.Ordinal))
            .Sum(l => l.GetProperty("State").GetProperty("Duplicates").GetInt32());

    /// <summary>A central database the agent cannot use, and what <c>tocsin export status</c> must say about it.</summary>
    public enum Broken
    {
        /// <summary>A loopback port nothing listens on.</summary>
        ClosedPort,

        /// <summary>A loopback port that accepts connections and never answers (a hung host), with a 1 s connect timeout.</summary>
        Silent,

        /// <summary><c>sslmode=require</c> against the fixture server, which has no TLS.</summary>
        TlsRequired,
    }

    [Theory]
    [InlineData(Broken.ClosedPort)]
    [InlineData(Broken.Silent)]
    [InlineData(Broken.TlsRequired)]
    public async Task Unusable_central_database_keeps_the_agent_checking_the_status_says_why_and_a_fixed_uri_drains_the_backlog_once(Broken broken)
    {
        await using var target = await TargetServer.StartAsync();
        using var folder = new TempFolder();
        string cs = await server.CreateDatabaseAsync();
        var b = new NpgsqlConnectionStringBuilder(cs);
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start(); // The kernel completes the handshakes; nobody reads or answers.
        // why: a pattern of the reason. The password is in the URI: it must show in no log line and no status.
        var (uri, why) = broken switch
        {
            Broken.ClosedPort => (Uri(b, port: ClosedPort(), password: server.Password), "Connection refused"),
            Broken.Silent => (Uri(b, port: ((IPEndPoint)silent.LocalEndpoint).Port, password: server.Password, query: "connect_timeout=1"), "(?i)time(d)? ?out"), // Npgsql says "timed out" or "Timeout during reading attempt".
            _ => (Uri(b, password: server.Password, query: "sslmode=require"), "SSL"),
        };
        string config = AgentConfig.Write(folder, AgentConfig.Tcp("a", target.Port), AgentConfig.Tcp("b", target.Port));
        AgentConfig.Edit(config, root => root["externalDatabaseUri"] = uri);
        string outbox = AgentConfig.OutboxPath(folder);

        await using (var agent = TocsinProcess.Start(folder.Path, ["start", "--config-path", config]))
        {
            await Poll.UntilAsync(() => agent.FindLog("Export to PostgreSQL failed") is not null, ok => ok, Deadline, "an export failure log line", () => agent.Output);
            long before = OutboxFile.CountResults(outbox);

            // The status, read by another process from the outbox, says why.
            var status = await ExportStatusAsync(folder, config);
            for (var end = DateTime.UtcNow + Deadline; status.GetProperty("consecutiveFailures").GetInt32() < 2; status = await ExportStatusAsync(folder, config))
            {
                Assert.True(DateTime.UtcNow < end, $"no second failed attempt in the status: {status}{Environment.NewLine}{agent.Output}");
                await Task.Delay(500, TestContext.Current.CancellationToken); // Each look starts a tocsin process.
            }

            string lastError = status.GetProperty("lastError").GetString()!;
            TestContext.Current.TestOutputHelper?.WriteLine($"{broken}: {lastError}");
            Assert.Matches(why, lastError);
            Assert.Contains(":***@", status.GetProperty("target").GetString(), StringComparison.Ordinal);
            Assert.True(status.GetProperty("nextAttemptAt").GetDateTimeOffset() > status.GetProperty("lastErrorAt").GetDateTimeOffset(), status.ToString());

            // Still checking, still buffering, still the same process (no crash loop).
            await Poll.UntilAsync(() => OutboxFile.CountResults(outbox), n => n >= before + 4, Deadline, "results kept locally meanwhile", () => agent.Output);
            Assert.False(agent.HasExited, agent.Output);
            Assert.Equal(0, CentralTables.CountResults(cs));
            await StopCleanlyAsync(agent);
            Assert.DoesNotContain(server.Password, agent.Output, StringComparison.Ordinal);
            Assert.Matches(why, agent.Stderr);
        }

        // The operator fixes the URI; the next start sends the whole backlog, once.
        var fix = await TocsinProcess.RunAsync(folder.Path, "config", "databases", "update", "--external", Uri(b), "--config-path", config);
        Assert.True(fix.ExitCode == 0, fix.ToString());
        long buffered = OutboxFile.CountResults(outbox);
        await using (var fixedAgent = TocsinProcess.Start(folder.Path, ["start", "--config-path", config], PasswordEnv()))
        {
            await Poll.UntilAsync(() => CentralTables.CountResults(cs), n => n >= buffered, Deadline, "the backlog in PostgreSQL", () => fixedAgent.Output);
            await StopCleanlyAsync(fixedAgent);
            var after = await ExportStatusAsync(folder, config);
            Assert.Equal(JsonValueKind.Null, after.GetProperty("lastError").ValueKind);
            Assert.Equal(0, after.GetProperty("pendingRows").GetInt64());
        }

        AssertExactlyOnce(cs, outbox);
    }

    private static async Task<JsonElement> ExportStatusAsync(TempFolder folder, string config)
    {
        var run = await TocsinProcess.RunAsync(folder.Path, "export", "status", "--json", "--config-path", config);
        Assert.True(run.ExitCode == 0, run.ToString());
        using var doc = JsonDocument.Parse(run.Stdout);
        return doc.RootElement.Clone();
    }

    [Fact]
    public async Task Postgres_stopped_during_steady_checking_gets_every_result_once_after_it_returns()
    {
        await using var target = await TargetServer.StartAsync();
        using var folder = new TempFolder();
        string cs = await server.CreateDatabaseAsync();
        var b = new NpgsqlConnectionStringBuilder(cs);
        string config = AgentConfig.Write(folder, [.. Enumerable.Range(0, 5).Select(i => AgentConfig.Tcp($"tcp {i}", target.Port))]);
        AgentConfig.Edit(config, root => root["externalDatabaseUri"] = Uri(b));
        string outbox = AgentConfig.OutboxPath(folder);

        await using var agent = TocsinProcess.Start(folder.Path, ["start", "--config-path", config], PasswordEnv());
        try
        {
            await Poll.UntilAsync(() => CentralTables.CountResults(cs), n => n >= 10, Deadline, "results in PostgreSQL", () => agent.Output);
            await server.StopAsync();
            long atStop = OutboxFile.CountResults(outbox);
            await Poll.UntilAsync(() => agent.FindLog("Export to PostgreSQL failed") is not null, ok => ok, Deadline, "an export failure while PostgreSQL is down", () => agent.Output);
            await Poll.UntilAsync(() => OutboxFile.CountResults(outbox), n => n >= atStop + 20, Deadline, "results checked while PostgreSQL is down", () => agent.Output);
            Assert.False(agent.HasExited, agent.Output);
        }
        finally
        {
            if (!server.IsRunning)
            {
                await server.StartAsync();
            }
        }

        long buffered = OutboxFile.CountResults(outbox);
        await Poll.UntilAsync(() => CentralTables.CountResults(cs), n => n >= buffered, Deadline, "the backlog in PostgreSQL after its return", () => agent.Output);
        await StopCleanlyAsync(agent);
        AssertExactlyOnce(cs, outbox);
    }
}
