using System.Text.Json;
using Tocsin.Configuration;
using Tocsin.Discovery;
using Tocsin.KubernetesEmulator;
using Emulator = Tocsin.KubernetesEmulator.KubernetesEmulator;

namespace Tocsin.Core.Tests.Discovery;

/// <summary>
/// Pod discovery through KubernetesClient against the Kubernetes API emulator, reached through a kubeconfig it wrote (or
/// in-cluster files): what is kept, the ports, the namespace defaults, and the errors (401, 403, unreachable, bad kubeconfig).
/// </summary>
public sealed class KubernetesPodDiscoveryTests : IAsyncLifetime
{
    private const string Token = "k8s-token-0123456789-secret";

    private readonly TempFolder _folder = new();
    private Emulator _k8s = null!;
    private KubernetesServiceAccount _account = null!;
    private KubernetesPodDiscovery _discovery = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _k8s = await Emulator.StartAsync(cancellationToken: Ct);
        _account = _k8s.AddServiceAccount("monitoring", "tocsin", Token).Allow("chat", "get", "list");
        _k8s.Apply(KubernetesPod.RocketChat("rocketchat-2", "10.1.0.12", ns: "chat"));
        _k8s.Apply(KubernetesPod.RocketChat("rocketchat-0", "10.1.0.10", ns: "chat"));
        _k8s.Apply(KubernetesPod.RocketChat("rocketchat-1", "10.1.0.11", ns: "chat"));
        _k8s.Apply(KubernetesPod.RocketChat("rocketchat-3", "10.1.0.13", ns: "chat") with { Ready = false });
        _k8s.Apply(KubernetesPod.RocketChat("rocketchat-4", "10.1.0.14", ns: "chat") with { Phase = KubernetesPodPhase.Pending, Ready = false, PodIP = null });
        _k8s.Apply(KubernetesPod.RocketChat("rocketchat-5", "10.1.0.15", ns: "chat"));
        _k8s.Terminate("chat", "rocketchat-5");
        _k8s.Apply(KubernetesPod.RocketChat("rocketchat-6", "10.1.0.16", ns: "chat") with { Phase = KubernetesPodPhase.Succeeded, Ready = false });
        _k8s.Apply(KubernetesPod.RocketChat("mongodb-0", "10.1.0.20", 27017, "chat") with { Labels = new Dictionary<string, string> { ["app"] = "mongodb" } });
        _k8s.Apply(KubernetesPod.RocketChat("rocketchat-0", "10.2.0.10", ns: "other"));
        _discovery = new KubernetesPodDiscovery(Isolated());
    }

    public async ValueTask DisposeAsync()
    {
        _discovery.Dispose();
        await _k8s.DisposeAsync();
        _folder.Dispose();
    }

    /// <summary>An environment outside any cluster with no kubeconfig: nothing of the machine running the tests is used.</summary>
    private KubernetesEnvironment Isolated(string? kubeconfigVariable = null) =>
        new(null, null, _folder.File("no-service-account"), kubeconfigVariable, _folder.File("home"));

    private string Kubeconfig(string? ns = "chat", string token = Token, Emulator? k8s = null, string name = "kubeconfig") =>
        (k8s ?? _k8s).WriteKubeconfig(_folder.File(name), token, ns);

    private KubernetesDiscoveryOptions Options(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var errors = new List<ConfigError>();
        var reader = new ConfigObjectReader(doc.RootElement, _folder.File("tocsin.json"), "checks[0]", errors, "discovery.");
        reader.String("type");
        var options = KubernetesDiscoveryOptions.Read(reader);
        reader.RejectUnknownFields();
        Assert.Empty(errors);
        return options!;
    }

    private static string[] Urls(IEnumerable<Uri> urls) => [.. urls.Select(u => u.ToString())];

    [Fact]
    public async Task By_default_the_running_ready_pods_named_rocketchat_of_the_context_namespace_are_found_sorted_by_name()
    {
        Kubeconfig();
        var options = Options("""{ "type": "kubernetes", "kubeconfig": "kubeconfig" }""");
        var urls = await _discovery.DiscoverAsync(options, 3000, Ct);
        Assert.Equal(["http://10.1.0.10:3000/", "http://10.1.0.11:3000/", "http://10.1.0.12:3000/"], Urls(urls));

        var result = await _discovery.DiscoverPodsAsync(options, 3000, Ct);
        Assert.Equal("chat", result.Namespace);
        Assert.Equal(["rocketchat-0", "rocketchat-1", "rocketchat-2"], result.Instances.Select(p => p.Name));
        Assert.Equal(
            [new ExcludedPod("rocketchat-3", "not ready"), new ExcludedPod("rocketchat-4", "phase Pending"), new ExcludedPod("rocketchat-5", "terminating"),
             new ExcludedPod("rocketchat-6", "phase Succeeded")],
            result.Excluded);
        var call = _k8s.Calls[^1];
        Assert.Equal("GET /api/v1/namespaces/{namespace}/pods", call.Endpoint);
        Assert.Equal("/api/v1/namespaces/chat/pods", call.Path);
        Assert.Equal("system:serviceaccount:monitoring:tocsin", call.User);
        Assert.DoesNotContain("labelSelector", call.Query, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_label_selector_is_sent_to_the_api_server_and_replaces_the_name_prefix()
    {
        _k8s.Apply(KubernetesPod.RocketChat("chat-web-7f9c", "10.1.0.30", ns: "chat", labels: ["tier=web"]));
        _k8s.Apply(KubernetesPod.RocketChat("chat-web-canary", "10.1.0.31", ns: "chat", labels: ["tier=web", "canary=true"]));
        _k8s.Apply(KubernetesPod.RocketChat("chat-worker-1", "10.1.0.32", ns: "chat", labels: ["tier=worker"]));
        Kubeconfig();
        var options = Options("""{ "type": "kubernetes", "kubeconfig": "kubeconfig", "labelSelector": "app=rocketchat,tier in (web),!canary" }""");
        Assert.Equal(["http://10.1.0.30:3000/"], Urls(await _discovery.DiscoverAsync(options, 3000, Ct)));
        Assert.StartsWith("?labelSelector=app%3Drocketchat%2Ctier%20in%20%28web%29%2C%21canary", _k8s.Calls[^1].Query, StringComparison.Ordinal);

        // The same selector with an explicit prefix: both apply.
        var both = Options("""{ "type": "kubernetes", "kubeconfig": "kubeconfig", "labelSelector": "app=rocketchat", "namePrefix": "chat-" }""");
        Assert.Equal(["http://10.1.0.30:3000/", "http://10.1.0.31:3000/", "http://10.1.0.32:3000/"], Urls(await _discovery.DiscoverAsync(both, 3000, Ct)));
    }

    [Fact]
    public async Task The_port_is_the_configured_one_else_the_container_port_named_http_else_the_first_declared_else_the_instance_port()
    {
        _k8s.Apply(new KubernetesPod
        {
            Name = "rocketchat-multi", Namespace = "web", PodIP = "10.3.0.1",
            Containers =
            [
                new KubernetesContainer("exporter", "exporter:1", [new KubernetesContainerPort(9100, "metrics")]),
                new KubernetesContainer("rocketchat", "rocket.chat:6", [new KubernetesContainerPort(3000, "http"), new KubernetesContainerPort(3001)]),
            ],
        });
        _k8s.Apply(new KubernetesPod
        {
            Name = "rocketchat-unnamed", Namespace = "web", PodIP = "10.3.0.2",
            Containers = [new KubernetesContainer("rocketchat", "rocket.chat:6", [new KubernetesContainerPort(3100), new KubernetesContainerPort(3101)])],
        });
        _k8s.Apply(new KubernetesPod
        {
            Name = "rocketchat-noports", Namespace = "web", PodIP = "fd00::3",
            Containers = [new KubernetesContainer("rocketchat", "rocket.chat:6", [])],
        });
        _account.Allow("web", "list");
        Kubeconfig(ns: "web");

        // Sorted by pod name: rocketchat-multi, rocketchat-noports, rocketchat-unnamed.
        Assert.Equal(["http://10.3.0.1:3000/", "http://[fd00::3]:3555/", "http://10.3.0.2:3100/"],
            Urls(await _discovery.DiscoverAsync(Options("""{ "type": "kubernetes", "kubeconfig": "kubeconfig" }"""), 3555, Ct)));
        Assert.Equal(["http://10.3.0.1:8080/", "http://[fd00::3]:8080/", "http://10.3.0.2:8080/"],
            Urls(await _discovery.DiscoverAsync(Options("""{ "type": "kubernetes", "kubeconfig": "kubeconfig", "port": 8080 }"""), 3555, Ct)));

        var named = await _discovery.DiscoverPodsAsync(Options("""{ "type": "kubernetes", "kubeconfig": "kubeconfig", "port": "metrics" }"""), 3555, Ct);
        Assert.Equal(["http://10.3.0.1:9100/"], Urls(named.Instances.Select(p => p.Url)));
        Assert.Equal(
            [new ExcludedPod("rocketchat-noports", "no container port named \"metrics\""), new ExcludedPod("rocketchat-unnamed", "no container port named \"metrics\"")],
            named.Excluded);
    }

    [Fact]
    public async Task The_namespace_is_the_configured_one_else_the_context_namespace_else_default()
    {
        _account.Allow("default", "list").Allow("other", "list");
        _k8s.Apply(KubernetesPod.RocketChat("rocketchat-d", "10.4.0.1"));
        Kubeconfig(ns: null);
        var noNamespace = await _discovery.DiscoverPodsAsync(Options("""{ "type": "kubernetes", "kubeconfig": "kubeconfig" }"""), 3000, Ct);
        Assert.Equal("default", noNamespace.Namespace);
        Assert.Equal(["http://10.4.0.1:3000/"], Urls(noNamespace.Instances.Select(p => p.Url)));

        Kubeconfig(ns: "chat", name: "kubeconfig-chat");
        var configured = await _discovery.DiscoverPodsAsync(Options("""{ "type": "kubernetes", "kubeconfig": "kubeconfig-chat", "namespace": "other" }"""), 3000, Ct);
        Assert.Equal("other", configured.Namespace);
        Assert.Equal(["http://10.2.0.10:3000/"], Urls(configured.Instances.Select(p => p.Url)));
    }

    [Fact]
    public async Task Pods_that_come_go_or_stop_being_ready_are_seen_on_the_next_discovery_through_the_same_client()
    {
        Kubeconfig();
        var options = Options("""{ "type": "kubernetes", "kubeconfig": "kubeconfig" }""");
        Assert.Equal(3, (await _discovery.DiscoverAsync(options, 3000, Ct)).Count);
        _k8s.Update("chat", "rocketchat-3", p => p with { Ready = true });
        _k8s.Delete("chat", "rocketchat-0");
        _k8s.Update("chat", "rocketchat-1", p => p with { Ready = false });
        Assert.Equal(["http://10.1.0.12:3000/", "http://10.1.0.13:3000/"], Urls(await _discovery.DiscoverAsync(options, 3000, Ct)));
        Assert.Equal(1, _discovery.ClientCount);

        // Another namespace through the same kubeconfig shares the client.
        _account.Allow("other", "list");
        Assert.Single(await _discovery.DiscoverAsync(options with { Namespace = "other" }, 3000, Ct));
        Assert.Equal(1, _discovery.ClientCount);
    }

    [Fact]
    public async Task A_changed_kubeconfig_is_read_again_so_a_rotated_token_is_used()
    {
        string path = Kubeconfig(token: "old-token-that-was-revoked");
        var options = Options("""{ "type": "kubernetes", "kubeconfig": "kubeconfig" }""");
        var refused = await Assert.ThrowsAsync<KubernetesDiscoveryException>(() => _discovery.DiscoverAsync(options, 3000, Ct));
        Assert.Equal(KubernetesDiscoveryFailure.Unauthorized, refused.Failure);

        Kubeconfig();
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(1));
        Assert.Equal(3, (await _discovery.DiscoverAsync(options, 3000, Ct)).Count);
        Assert.Equal(1, _discovery.ClientCount);
    }

    [Fact]
    public async Task A_refused_token_is_a_clear_401_error_that_never_shows_the_token()
    {
        const string Wrong = "wrong-token-9876543210-secret";
        Kubeconfig(token: Wrong);
        var ex = await Assert.ThrowsAsync<KubernetesDiscoveryException>(() =>
            _discovery.DiscoverAsync(Options("""{ "type": "kubernetes", "kubeconfig": "kubeconfig" }"""), 3000, Ct));
        Assert.Equal(KubernetesDiscoveryFailure.Unauthorized, ex.Failure);
        Assert.Equal(401, ex.StatusCode);
        Assert.Contains($"the Kubernetes API at {_k8s.BaseAddress.GetLeftPart(UriPartial.Authority)} refused the credentials of kubeconfig {_folder.File("kubeconfig")}", ex.Message, StringComparison.Ordinal);
        Assert.Contains("HTTP 401 Unauthorized", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Wrong, ex.ToString(), StringComparison.Ordinal);
        Assert.Null(ex.InnerException);
    }

    [Fact]
    public async Task Missing_rbac_is_a_403_error_naming_the_verb_resource_namespace_and_user()
    {
        _account.RevokeAll();
        _account.Allow("other", "get", "list");
        Kubeconfig();
        var ex = await Assert.ThrowsAsync<KubernetesDiscoveryException>(() =>
            _discovery.DiscoverAsync(Options("""{ "type": "kubernetes", "kubeconfig": "kubeconfig" }"""), 3000, Ct));
        Assert.Equal(KubernetesDiscoveryFailure.Forbidden, ex.Failure);
        Assert.Equal(403, ex.StatusCode);
        Assert.Contains("RBAC does not allow listing pods in namespace \"chat\"", ex.Message, StringComparison.Ordinal);
        Assert.Contains("pods is forbidden: User \"system:serviceaccount:monitoring:tocsin\" cannot list resource \"pods\" in API group \"\" in the namespace \"chat\"", ex.Message, StringComparison.Ordinal);
        Assert.Contains("a Role in namespace \"chat\" that allows the verbs \"get\" and \"list\" on the resource \"pods\"", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_api_server_is_a_clear_error()
    {
        var gone = await Emulator.StartAsync(cancellationToken: Ct);
        string authority = gone.BaseAddress.GetLeftPart(UriPartial.Authority);
        Kubeconfig(k8s: gone, name: "kubeconfig-gone");
        await gone.DisposeAsync();
        var ex = await Assert.ThrowsAsync<KubernetesDiscoveryException>(() =>
            _discovery.DiscoverAsync(Options("""{ "type": "kubernetes", "kubeconfig": "kubeconfig-gone" }"""), 3000, Ct));
        Assert.Equal(KubernetesDiscoveryFailure.Unreachable, ex.Failure);
        Assert.StartsWith($"cannot reach the Kubernetes API at {authority}: ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("refused", ex.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Token, ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_kubeconfig_that_is_not_yaml_or_names_an_unknown_context_is_a_configuration_error_without_its_content()
    {
        File.WriteAllText(_folder.File("kubeconfig"), $"apiVersion: v1\nusers:\n- name: u\n  user: {{ token: \"{Token}\" ]\n");
        var options = Options("""{ "type": "kubernetes", "kubeconfig": "kubeconfig" }""");
        var ex = await Assert.ThrowsAsync<KubernetesDiscoveryException>(() => _discovery.DiscoverAsync(options, 3000, Ct));
        Assert.Equal(KubernetesDiscoveryFailure.Configuration, ex.Failure);
        Assert.Contains($"cannot use kubeconfig {_folder.File("kubeconfig")} (the check's kubeconfig): not a valid kubeconfig (YAML error at line 4", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, ex.ToString(), StringComparison.Ordinal);

        Kubeconfig(name: "kubeconfig-ok");
        var unknown = await Assert.ThrowsAsync<KubernetesDiscoveryException>(() =>
            _discovery.DiscoverAsync(Options("""{ "type": "kubernetes", "kubeconfig": "kubeconfig-ok", "context": "prod" }"""), 3000, Ct));
        Assert.Equal(KubernetesDiscoveryFailure.Configuration, unknown.Failure);
        Assert.Contains("context \"prod\"", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("prod", unknown.Message.Split(": ", 2)[1], StringComparison.Ordinal);
        Assert.DoesNotContain(Token, unknown.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_kubeconfig_field_the_KUBECONFIG_list_then_the_home_kubeconfig_is_used_and_else_the_error_says_what_was_looked_for()
    {
        var options = Options("""{ "type": "kubernetes" }""");
        var none = await Assert.ThrowsAsync<KubernetesDiscoveryException>(() => _discovery.DiscoverAsync(options, 3000, Ct));
        Assert.Equal(KubernetesDiscoveryFailure.Configuration, none.Failure);
        Assert.Contains("no Kubernetes credentials: not running in a pod (KUBERNETES_SERVICE_HOST is not set)", none.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(_folder.File("home"), ".kube", "config"), none.Message, StringComparison.Ordinal);

        Directory.CreateDirectory(Path.Combine(_folder.File("home"), ".kube"));
        _k8s.WriteKubeconfig(Path.Combine(_folder.File("home"), ".kube", "config"), Token, "chat");
        Assert.Equal(3, (await _discovery.DiscoverAsync(options, 3000, Ct)).Count);

        _account.Allow("other", "list");
        string listed = Kubeconfig(ns: "other", name: "from-variable");
        using var viaVariable = new KubernetesPodDiscovery(Isolated($"{_folder.File("missing")}:{listed}"));
        Assert.Equal(["http://10.2.0.10:3000/"], Urls(await viaVariable.DiscoverAsync(options, 3000, Ct)));
    }

    [Fact]
    public async Task In_a_pod_the_service_account_token_ca_and_namespace_files_are_used_over_https()
    {
        await using var cluster = await Emulator.StartAsync(new KubernetesEmulatorOptions { Tls = true }, Ct);
        cluster.AddServiceAccount("chat", "tocsin", Token).Allow("chat", "get", "list");
        cluster.Apply(KubernetesPod.RocketChat("rocketchat-0", "10.9.0.1", ns: "chat"));
        cluster.Apply(KubernetesPod.RocketChat("rocketchat-1", "10.9.0.2", ns: "chat"));
        string account = Directory.CreateDirectory(_folder.File("serviceaccount")).FullName;
        File.WriteAllText(Path.Combine(account, "token"), Token);
        File.WriteAllText(Path.Combine(account, "ca.crt"), cluster.CertificateAuthorityPem);
        File.WriteAllText(Path.Combine(account, "namespace"), "chat");
        Assert.StartsWith("https://127.0.0.1:", cluster.BaseAddress.ToString(), StringComparison.Ordinal);

        using var inPod = new KubernetesPodDiscovery(new KubernetesEnvironment("127.0.0.1", cluster.BaseAddress.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), account, null, _folder.File("home")));
        var result = await inPod.DiscoverPodsAsync(Options("""{ "type": "kubernetes" }"""), 3000, Ct);
        Assert.Equal("chat", result.Namespace);
        Assert.Equal(["http://10.9.0.1:3000/", "http://10.9.0.2:3000/"], Urls(result.Instances.Select(p => p.Url)));
        Assert.Equal("system:serviceaccount:chat:tocsin", cluster.Calls[^1].User);

        File.Delete(Path.Combine(account, "token"));
        using var noToken = new KubernetesPodDiscovery(new KubernetesEnvironment("127.0.0.1", "443", account, null, _folder.File("home")));
        var ex = await Assert.ThrowsAsync<KubernetesDiscoveryException>(() => noToken.DiscoverAsync(Options("""{ "type": "kubernetes" }"""), 3000, Ct));
        Assert.Equal(KubernetesDiscoveryFailure.Configuration, ex.Failure);
        Assert.Contains($"running in a pod (KUBERNETES_SERVICE_HOST is set) but {Path.Combine(account, "token")} is missing", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_kubeconfig_with_certificate_authority_data_reaches_an_https_api_server_and_an_untrusted_one_is_refused()
    {
        await using var cluster = await Emulator.StartAsync(new KubernetesEmulatorOptions { Tls = true }, Ct);
        cluster.AddServiceAccount("chat", "tocsin", Token).Allow("chat", "list");
        cluster.Apply(KubernetesPod.RocketChat("rocketchat-0", "10.9.0.1", ns: "chat"));
        Kubeconfig(k8s: cluster, name: "kubeconfig-tls");
        Assert.Equal(["http://10.9.0.1:3000/"], Urls(await _discovery.DiscoverAsync(Options("""{ "type": "kubernetes", "kubeconfig": "kubeconfig-tls" }"""), 3000, Ct)));

        await using var other = await Emulator.StartAsync(new KubernetesEmulatorOptions { Tls = true }, Ct);
        string yaml = cluster.KubeconfigYaml(Token, "chat").Replace(cluster.BaseAddress.GetLeftPart(UriPartial.Authority), other.BaseAddress.GetLeftPart(UriPartial.Authority), StringComparison.Ordinal);
        File.WriteAllText(_folder.File("kubeconfig-wrong-ca"), yaml);
        var ex = await Assert.ThrowsAsync<KubernetesDiscoveryException>(() =>
            _discovery.DiscoverAsync(Options("""{ "type": "kubernetes", "kubeconfig": "kubeconfig-wrong-ca" }"""), 3000, Ct));
        Assert.Equal(KubernetesDiscoveryFailure.Unreachable, ex.Failure);
        Assert.Contains("TLS handshake failed", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pods_pointing_at_emulated_rocketchat_instances_give_their_base_addresses()
    {
        await using var chat = await Tocsin.RocketChatEmulator.RocketChatEmulator.StartAsync(new() { Instances = 2 }, Ct);
        _account.Allow("rc", "list");
        foreach (var instance in chat.Instances)
        {
            _k8s.Apply(KubernetesPod.RocketChat($"rocketchat-{instance.Index}", "127.0.0.1", instance.BaseAddress.Port, "rc"));
        }

        Kubeconfig(ns: "rc");
        var urls = await _discovery.DiscoverAsync(Options("""{ "type": "kubernetes", "kubeconfig": "kubeconfig" }"""), 3000, Ct);
        Assert.Equal(chat.Instances.Select(i => i.BaseAddress), urls);
    }

    [Fact]
    public async Task A_cancelled_discovery_throws_OperationCanceledException()
    {
        Kubeconfig();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            _discovery.DiscoverAsync(Options("""{ "type": "kubernetes", "kubeconfig": "kubeconfig" }"""), 3000, cancelled.Token));
    }
}
