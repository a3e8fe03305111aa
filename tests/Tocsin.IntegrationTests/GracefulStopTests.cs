using System.Globalization;
using System.Text.Json;
using Tocsin.IntegrationTests.Fixtures;
using Tocsin.Scheduling;

namespace Tocsin.IntegrationTests;

/// <summary><c>tocsin start</c> stopped with SIGTERM (systemd, docker, Kubernetes) or SIGINT (Ctrl+C).</summary>
public sealed class GracefulStopTests
{
    /// <summary>
    /// The slow check's request takes 3 s and the signal comes 0.5 s after it arrived, so the stop has to wait
    /// 2.5 s for it: longer than System.CommandLine's default 2 s termination timeout, within the 5 s stop grace.
    /// </summary>
    private const int SlowMs = 3000;

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public async Task Signal_stops_gracefully_with_exit_0_waiting_for_the_run_in_flight_and_storing_every_started_run(string signal)
    {
        await using var target = await TargetServer.StartAsync();
        using var folder = new TempFolder();
        string tag = Guid.NewGuid().ToString("N");

        // Its first run comes within one 5 s interval (due times lie on a wall-clock grid).
        const string slowName = "slow";
        string config = AgentConfig.Write(
            folder,
            AgentConfig.Http("fast 1", target.Url("/ok")),
            AgentConfig.Http("fast 2", target.Url("/ok")),
            AgentConfig.Tcp("fast tcp", target.Port),
            AgentConfig.Http(slowName, target.Url($"/slow?ms={SlowMs}&tag={tag}"), interval: "5s", timeout: "4s"));
        string outbox = AgentConfig.OutboxPath(folder);

        await using var agent = TocsinProcess.Start(folder.Path, ["start", "--config-path", config]);
        await target.SlowRequestArrived(tag).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        await Task.Delay(500, TestContext.Current.CancellationToken);
        agent.Signal(signal);

        // Within the host's 30 s shutdown timeout (plus start-up slack on a busy machine).
        int code = await agent.WaitForExitAsync(TimeSpan.FromSeconds(45));
        Assert.True(code == 0, $"exit code {code}{Environment.NewLine}{agent.Output}");

        var stopped = agent.FindLog("Scheduler stopped: ");
        Assert.True(stopped is not null, agent.Output);
        var state = stopped.Value.GetProperty("State");
        long started = Number(state.GetProperty("Started"));
        long cancelled = Number(state.GetProperty("Cancelled"));
        Assert.Equal(started - cancelled, OutboxFile.CountResults(outbox));

        var slow = Assert.Single(OutboxFile.Results(outbox, slowName));
        Assert.True(slow.State == 0, $"slow check stored as state {slow.State}: {slow.Message}");
        Assert.Equal(200, slow.StatusCode);
        Assert.Equal(0, cancelled);
    }

    [Fact]
    public async Task Stop_counts_runs_still_waiting_for_the_concurrency_limit_as_skipped_not_cancelled()
    {
        await using var target = await TargetServer.StartAsync();
        using var folder = new TempFolder();
        string tag = Guid.NewGuid().ToString("N");
        const string slowName = "hog";

        // One run at a time: the 8 s run holds the only slot, so the fast checks' runs wait for it. The stop
        // waits its 5 s grace, then cancels the slow run (started) and the waiting ones (never started).
        string config = AgentConfig.Write(
            folder,
            AgentConfig.Http(slowName, target.Url($"/slow?ms=8000&tag={tag}"), interval: "10s", timeout: "9s"),
            AgentConfig.Http("waiting 1", target.Url("/ok")),
            AgentConfig.Http("waiting 2", target.Url("/ok")));
        AgentConfig.Edit(config, root => root["scheduler"] = new System.Text.Json.Nodes.JsonObject { ["maxConcurrentRuns"] = 1 });
        string outbox = AgentConfig.OutboxPath(folder);

        await using var agent = TocsinProcess.Start(folder.Path, ["start", "--config-path", config]);
        await target.SlowRequestArrived(tag).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        await Task.Delay(1500, TestContext.Current.CancellationToken);
        agent.Signal("TERM");
        int code = await agent.WaitForExitAsync(TimeSpan.FromSeconds(45));
        Assert.True(code == 0, $"exit code {code}{Environment.NewLine}{agent.Output}");

        var state = agent.FindLog("Scheduler stopped: ")?.GetProperty("State");
        Assert.True(state is not null, agent.Output);
        long started = Number(state.Value.GetProperty("Started"));
        long cancelled = Number(state.Value.GetProperty("Cancelled"));
        Assert.Equal(1, cancelled);
        Assert.Equal(started - cancelled, OutboxFile.CountResults(outbox));
        Assert.Empty(OutboxFile.Results(outbox, slowName));
    }

    [Fact]
    public async Task Signal_while_starting_stops_cleanly_with_exit_0()
    {
        // A central database that accepts connections and never answers holds the start in the fleet join (up to 5 s),
        // before the web server listens: the signal arrives while the host is still starting.
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        int port = ((System.Net.IPEndPoint)silent.LocalEndpoint).Port;
        using var folder = new TempFolder();
        string config = AgentConfig.Write(folder, AgentConfig.Tcp("port", port, "10s"));
        AgentConfig.Edit(config, root => root["externalDatabaseUri"] = $"postgresql://tocsin:pw@127.0.0.1:{port}/tocsin?connect_timeout=4");

        await using var agent = TocsinProcess.Start(folder.Path, ["start", "--config-path", config]);

        // The fleet join's connection arriving at the silent port means the host is starting (its signal handlers
        // are registered before the hosted services start). A fixed delay was not enough on a loaded machine: the
        // signal came before the runtime had started and the process died of it (exit 143).
        using var joining = await silent.AcceptTcpClientAsync(TestContext.Current.CancellationToken).AsTask()
            .WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.Null(agent.FindLog("Now listening on: "));
        agent.Signal("TERM");

        int code = await agent.WaitForExitAsync(TimeSpan.FromSeconds(45));
        Assert.True(code == 0, $"exit code {code}{Environment.NewLine}{agent.Output}");
        Assert.DoesNotContain("Unhandled exception", agent.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Central_database_that_never_answers_delays_the_first_runs_by_the_join_budget_only()
    {
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        int port = ((System.Net.IPEndPoint)silent.LocalEndpoint).Port;
        using var folder = new TempFolder();
        string config = AgentConfig.Write(folder, AgentConfig.Tcp("port", port));
        AgentConfig.Edit(config, root => root["externalDatabaseUri"] = $"postgresql://tocsin:pw@127.0.0.1:{port}/tocsin?connect_timeout=60");

        await using var agent = TocsinProcess.Start(folder.Path, ["start", "--config-path", config]);

        // Npgsql would keep opening for 60 s; the agent waits its 5 s join budget, then checks (and listens).
        await Poll.UntilAsync(() => OutboxFile.CountResults(AgentConfig.OutboxPath(folder)), n => n >= 1, TimeSpan.FromSeconds(20), "a first result", () => agent.Output);
        Assert.NotNull(agent.FindLog("The central database did not answer the fleet join within"));
        agent.Signal("TERM");
        int code = await agent.WaitForExitAsync(TimeSpan.FromSeconds(90));
        Assert.True(code == 0, $"exit code {code}{Environment.NewLine}{agent.Output}");
    }

    private static long Number(JsonElement e) =>
        e.ValueKind == JsonValueKind.Number ? e.GetInt64() : long.Parse(e.GetString()!, CultureInfo.InvariantCulture);
}
