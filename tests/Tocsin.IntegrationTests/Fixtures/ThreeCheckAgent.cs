using System.Text.Json.Nodes;

namespace Tocsin.IntegrationTests.Fixtures;

/// <summary>
/// One <c>tocsin start --urls http://127.0.0.1:0</c> child for a test class, running three checks every second
/// against a private <see cref="TargetServer"/>: an http check named like seed 004's (<c>GET url</c>, whose
/// path a subclass picks), one against a 500 (<see cref="FailingCheck"/>) and a tcp check
/// (<see cref="TcpCheck"/>). Ready once every check has two results. Subclasses add configuration.
/// </summary>
public abstract class ThreeCheckAgent : IAsyncLifetime
{
    public const string FailingCheck = "failing 500";

    public const string TcpCheck = "target port";

    private TargetServer? _target;

    protected TempFolder Folder { get; } = new();

    public TocsinProcess Agent { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public string OkCheck { get; private set; } = null!;

    public string[] CheckNames { get; private set; } = [];

    public string OutboxPath => AgentConfig.OutboxPath(Folder);

    /// <summary>Path and query of the OK check's URL on the target, e.g. <c>/ok</c>.</summary>
    protected abstract string OkPath { get; }

    /// <summary>Runs before the agent starts (e.g. other <c>tocsin</c> commands in <see cref="Folder"/>).</summary>
    protected virtual Task PrepareAsync() => Task.CompletedTask;

    /// <summary>Changes the written configuration before the agent starts.</summary>
    protected virtual void Configure(JsonObject root)
    {
    }

    public async ValueTask InitializeAsync()
    {
        try
        {
            await PrepareAsync();
            _target = await TargetServer.StartAsync();
            OkCheck = "GET " + _target.Url(OkPath);
            CheckNames = [OkCheck, FailingCheck, TcpCheck];
            string config = AgentConfig.Write(
                Folder,
                AgentConfig.Http(OkCheck, _target.Url(OkPath)),
                AgentConfig.Http(FailingCheck, _target.Url("/500")),
                AgentConfig.Tcp(TcpCheck, _target.Port));
            AgentConfig.Edit(config, Configure);
            Agent = TocsinProcess.Start(Folder.Path, ["start", "--config-path", config, "--urls", "http://127.0.0.1:0"]);
            Http = new HttpClient { BaseAddress = await Agent.ListeningAddressAsync(TimeSpan.FromSeconds(30)), Timeout = TimeSpan.FromSeconds(30) };
            await Poll.UntilAsync(() => OutboxFile.FewestResults(OutboxPath, CheckNames), n => n >= 2, TimeSpan.FromSeconds(30), "two results of every check", () => Agent.Output);
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        if (Agent is not null)
        {
            await Agent.DisposeAsync();
        }

        if (_target is not null)
        {
            await _target.DisposeAsync();
        }

        Folder.Dispose();
        GC.SuppressFinalize(this);
    }
}
