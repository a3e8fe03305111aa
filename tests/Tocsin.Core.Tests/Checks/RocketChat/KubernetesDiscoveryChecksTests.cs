using Tocsin.Checks;
using Tocsin.Checks.RocketChat;
using Tocsin.Checks.RocketChatApps;
using Tocsin.Checks.RocketChatInstances;
using Tocsin.Configuration;
using Tocsin.KubernetesEmulator;
using Tocsin.RocketChatEmulator;
using ChatEmulator = Tocsin.RocketChatEmulator.RocketChatEmulator;
using KubeEmulator = Tocsin.KubernetesEmulator.KubernetesEmulator;

namespace Tocsin.Core.Tests.Checks.RocketChat;

/// <summary>
/// The Rocket.Chat checks with <c>"discovery": {"type": "kubernetes"}</c>: the Kubernetes API emulator lists pods whose
/// IP and container port point at the emulated 3-instance cluster's loopback ports, read through a kubeconfig it wrote.
/// </summary>
public sealed class KubernetesDiscoveryChecksTests : IAsyncLifetime
{
    private const string Token = "k8s-token-for-the-checks-secret";
    private static readonly RocketChatApp ClamAv = new("clamav-id", "ClamAV");

    private readonly TempFolder _folder = new();
    private ChatEmulator _chat = null!;
    private KubeEmulator _k8s = null!;
    private KubernetesServiceAccount _account = null!;
    private RocketChatUser _admin = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _chat = await ChatEmulator.StartAsync(new RocketChatEmulatorOptions { Instances = 3 }, Ct);
        _admin = _chat.State.AddUser("admin");
        _k8s = await KubeEmulator.StartAsync(cancellationToken: Ct);
        _account = _k8s.AddServiceAccount("chat", "tocsin", Token).Allow("chat", "get", "list");
        for (int i = 0; i < 3; i++)
        {
            _k8s.Apply(KubernetesPod.RocketChat($"rocketchat-{i}", "127.0.0.1", _chat.Instances[i].BaseAddress.Port, "chat"));
        }

        _k8s.Apply(KubernetesPod.RocketChat("mongodb-0", "127.0.0.1", 27017, "chat") with { Labels = new Dictionary<string, string> { ["app"] = "mongodb" } });
        _k8s.WriteKubeconfig(_folder.File("kubeconfig"), _account, "chat");
    }

    public async ValueTask DisposeAsync()
    {
        await _chat.DisposeAsync();
        await _k8s.DisposeAsync();
        _folder.Dispose();
    }

    private CheckDefinition Check(string kind, string discovery, string extra = "") =>
        Assert.Single(new ConfigLoader(CheckKinds.CreateDefault(TimeProvider.System)).Parse($$"""
            { "checks": [{ "name": "rc", "kind": "{{kind}}", "timeout": "30s",
                           "serverUrl": "{{_chat.BaseAddress}}", "userId": "{{_admin.Id}}", "pat": "{{_admin.Pat}}",
                           "discovery": {{discovery}} {{extra}} }] }
            """, _folder.File("tocsin.json")).Checks);

    private const string Pods = """{ "type": "kubernetes", "kubeconfig": "kubeconfig", "labelSelector": "app=rocketchat" }""";

    private string Address(int i) => _chat.Instances[i].BaseAddress.GetLeftPart(UriPartial.Authority);

    [Fact]
    public async Task Apps_drift_on_one_pod_is_fixed_there_and_the_instances_are_named_by_pod()
    {
        _chat.InstallAppPerInstance(ClamAv, "manually_enabled", "manually_disabled", "auto_enabled");
        var check = Check(RocketChatAppsCheckKind.KindName, Pods);
        Assert.Equal(DiscoveryType.Kubernetes, Assert.IsType<RocketChatAppsOptions>(check.Options).Discovery.Type);

        var outcome = await new RocketChatAppsCheckKind(TimeProvider.System) { CanRemediate = () => true }.RunAsync(check, Ct);
        Assert.Equal(CheckState.WARNING, outcome.State);
        Assert.Contains($"enabled ClamAV (clamav-id) on {Address(1)} (rocketchat-1)", outcome.Message, StringComparison.Ordinal);
        Assert.Equal(["manually_enabled", "manually_enabled", "auto_enabled"], _chat.AppStatuses(ClamAv.Id));
        var ids = outcome.Details!["instances"]!.AsArray().Select(n => n!["id"]!.GetValue<string>()).ToArray();
        Assert.Equal(["rocketchat-0", "rocketchat-1", "rocketchat-2"], ids);
        Assert.Contains(_k8s.Calls, c => c.Query.Contains("labelSelector=app%3Drocketchat", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Instances_below_expected_when_a_pod_is_not_ready()
    {
        var check = Check(RocketChatInstancesCheckKind.KindName, """{ "type": "kubernetes", "kubeconfig": "kubeconfig" }""", """, "expectedInstances": 3""");
        var kind = new RocketChatInstancesCheckKind(TimeProvider.System);
        var ok = await kind.RunAsync(check, Ct);
        Assert.Equal(CheckState.OK, ok.State);

        _k8s.Apply(KubernetesPod.RocketChat("rocketchat-2", "127.0.0.1", _chat.Instances[2].BaseAddress.Port, "chat") with { Ready = false });
        var fewer = await kind.RunAsync(check, Ct);
        Assert.Equal(CheckState.WARNING, fewer.State);
        Assert.Contains("2 of 3 expected instances answer", fewer.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_role_that_cannot_list_pods_is_unknown_naming_the_missing_permission_and_never_the_token()
    {
        var other = _k8s.AddServiceAccount("chat", "nobody", "another-secret-token-0987");
        _k8s.WriteKubeconfig(_folder.File("kubeconfig"), other, "chat");
        var outcome = await new RocketChatAppsCheckKind(TimeProvider.System) { CanRemediate = () => true }.RunAsync(Check(RocketChatAppsCheckKind.KindName, Pods), Ct);
        Assert.Equal(CheckState.UNKNOWN, outcome.State);
        Assert.StartsWith("cannot list the instances: Kubernetes: ", outcome.Message, StringComparison.Ordinal);
        Assert.Contains("\"list\"", outcome.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("another-secret-token-0987", outcome.Message + outcome.Details!.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(0, _chat.Instances.Sum(i => i.CallCount(RocketChatEndpoints.AppStatusChange)));
    }
}
