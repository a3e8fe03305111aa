using System.Text.Json;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary><c>tocsin export status [--json]</c> reads the backlog from the local outbox.</summary>
public sealed class ExportStatusCommandTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private TargetServer _target = null!;

    public async ValueTask InitializeAsync() => _target = await TargetServer.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await _target.DisposeAsync();
        _folder.Dispose();
    }

    [Fact]
    public async Task Export_status_json_counts_the_results_waiting_for_export_and_hides_the_password()
    {
        string config = AgentConfig.Write(_folder, AgentConfig.Tcp("a", _target.Port, "10s"), AgentConfig.Tcp("b", _target.Port, "10s"));
        AgentConfig.Edit(config, root => root["externalDatabaseUri"] = "postgresql://tocsin:hunter2secret@127.0.0.1:1/tocsin");
        var once = await TocsinProcess.RunAsync(_folder.Path, "start", "--once", "--config-path", config);
        Assert.True(once.ExitCode == 0, once.ToString());

        var run = await TocsinProcess.RunAsync(_folder.Path, "export", "status", "--json", "--config-path", config);

        Assert.True(run.ExitCode == 0, run.ToString());
        using var doc = JsonDocument.Parse(run.Stdout);
        var root = doc.RootElement;
        Assert.True(root.GetProperty("configured").GetBoolean());
        Assert.Equal("postgresql://tocsin:***@127.0.0.1:1/tocsin", root.GetProperty("target").GetString());
        Assert.Equal(2, root.GetProperty("pendingRows").GetInt64());
        Assert.InRange(root.GetProperty("oldestPendingAgeSeconds").GetDouble(), 0, 120);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("lastSuccessAt").ValueKind);
        Assert.DoesNotContain("hunter2secret", run.Stdout + run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_status_table_says_when_no_central_database_is_configured()
    {
        string config = AgentConfig.Write(_folder, AgentConfig.Tcp("a", _target.Port));

        var run = await TocsinProcess.RunAsync(_folder.Path, "export", "status", "--config-path", config);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("not configured", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("Pending rows", run.Stdout, StringComparison.Ordinal);
    }
}
