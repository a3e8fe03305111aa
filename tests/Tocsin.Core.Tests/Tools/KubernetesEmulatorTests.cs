using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using k8s;
using Tocsin.KubernetesEmulator;
using Emulator = Tocsin.KubernetesEmulator.KubernetesEmulator;

namespace Tocsin.Core.Tests.Tools;

/// <summary>The Kubernetes API emulator's wire format, selectors, authentication and RBAC, through a real HttpClient and KubernetesClient.</summary>
public sealed class KubernetesEmulatorTests : IAsyncLifetime
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(20) };
    private Emulator _k8s = null!;
    private KubernetesServiceAccount _reader = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _k8s = await Emulator.StartAsync(cancellationToken: Ct);
        _reader = _k8s.AddServiceAccount("monitoring", "tocsin", "reader-token").Allow("chat", "get", "list");
        _k8s.Apply(KubernetesPod.RocketChat("rocketchat-0", "10.1.0.10", ns: "chat", labels: ["tier=web"]));
        _k8s.Apply(KubernetesPod.RocketChat("rocketchat-1", "10.1.0.11", ns: "chat", labels: ["tier=api"]));
        _k8s.Apply(KubernetesPod.RocketChat("rocketchat-2", "10.1.0.12", ns: "chat") with { Phase = KubernetesPodPhase.Pending, Ready = false, PodIP = null });
        _k8s.Apply(KubernetesPod.RocketChat("mongodb-0", "10.1.0.20", 27017, "chat") with { Labels = new Dictionary<string, string> { ["app"] = "mongodb" } });
        _k8s.Apply(KubernetesPod.RocketChat("rocketchat-0", "10.2.0.10", ns: "other"));
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _k8s.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, JsonNode? Body)> GetAsync(string pathAndQuery, string? token = "reader-token")
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_k8s.BaseAddress, pathAndQuery));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        using var response = await _http.SendAsync(request, Ct);
        string text = await response.Content.ReadAsStringAsync(Ct);
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    private async Task<string[]> NamesAsync(string query)
    {
        var (status, body) = await GetAsync("api/v1/namespaces/chat/pods" + query);
        Assert.Equal(HttpStatusCode.OK, status);
        return [.. body!["items"]!.AsArray().Select(i => i!["metadata"]!["name"]!.GetValue<string>())];
    }

    [Fact]
    public async Task A_pod_list_has_the_api_servers_shape()
    {
        var (status, body) = await GetAsync("api/v1/namespaces/chat/pods");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("PodList", body!["kind"]!.GetValue<string>());
        Assert.Equal("v1", body["apiVersion"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(body["metadata"]!["resourceVersion"]!.GetValue<string>()));
        var items = body["items"]!.AsArray();
        Assert.Equal(["mongodb-0", "rocketchat-0", "rocketchat-1", "rocketchat-2"], items.Select(i => i!["metadata"]!["name"]!.GetValue<string>()));
        var pod = items[1]!;
        Assert.Null(pod["kind"]);
        Assert.Equal("chat", pod["metadata"]!["namespace"]!.GetValue<string>());
        Assert.Equal("web", pod["metadata"]!["labels"]!["tier"]!.GetValue<string>());
        Assert.Equal(3000, pod["spec"]!["containers"]![0]!["ports"]![0]!["containerPort"]!.GetValue<int>());
        Assert.Equal("http", pod["spec"]!["containers"]![0]!["ports"]![0]!["name"]!.GetValue<string>());
        Assert.Equal("Running", pod["status"]!["phase"]!.GetValue<string>());
        Assert.Equal("10.1.0.10", pod["status"]!["podIP"]!.GetValue<string>());
        Assert.Contains(pod["status"]!["conditions"]!.AsArray(), c => c!["type"]!.GetValue<string>() == "Ready" && c["status"]!.GetValue<string>() == "True");
        Assert.Null(items[3]!["status"]!["podIP"]);
    }

    [Theory]
    [InlineData("app=rocketchat", "rocketchat-0,rocketchat-1,rocketchat-2")]
    [InlineData("app==rocketchat,tier=web", "rocketchat-0")]
    [InlineData("app!=rocketchat", "mongodb-0")]
    [InlineData("tier!=web", "mongodb-0,rocketchat-1,rocketchat-2")]
    [InlineData("tier in (web, api)", "rocketchat-0,rocketchat-1")]
    [InlineData("tier notin (web)", "mongodb-0,rocketchat-1,rocketchat-2")]
    [InlineData("tier", "rocketchat-0,rocketchat-1")]
    [InlineData("!tier", "mongodb-0,rocketchat-2")]
    [InlineData("app=rocketchat,!tier", "rocketchat-2")]
    [InlineData("app=nothing", "")]
    public async Task Label_selectors_are_evaluated_as_the_api_server_does(string selector, string expected) =>
        Assert.Equal(expected, string.Join(",", await NamesAsync("?labelSelector=" + Uri.EscapeDataString(selector))));

    [Fact]
    public async Task Field_selectors_on_phase_and_name_are_evaluated_and_an_unsupported_field_is_a_400()
    {
        Assert.Equal(["rocketchat-2"], await NamesAsync("?fieldSelector=" + Uri.EscapeDataString("status.phase=Pending")));
        Assert.Equal(["mongodb-0", "rocketchat-1"], await NamesAsync("?fieldSelector=" + Uri.EscapeDataString("status.phase=Running,metadata.name!=rocketchat-0")));
        var (status, body) = await GetAsync("api/v1/namespaces/chat/pods?fieldSelector=spec.foo%3Dx");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("field label not supported: spec.foo", body!["message"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("app in ()")]
    [InlineData("app in (web")]
    [InlineData("app rocketchat")]
    [InlineData("-app=x")]
    public async Task A_bad_label_selector_is_a_400_status(string selector)
    {
        var (status, body) = await GetAsync("api/v1/namespaces/chat/pods?labelSelector=" + Uri.EscapeDataString(selector));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("Status", body!["kind"]!.GetValue<string>());
        Assert.Equal("BadRequest", body["reason"]!.GetValue<string>());
        Assert.StartsWith("unable to parse requirement", body["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_or_unknown_token_is_a_401_status()
    {
        foreach (string? token in new[] { null, "not-a-token" })
        {
            var (status, body) = await GetAsync("api/v1/namespaces/chat/pods", token);
            Assert.Equal(HttpStatusCode.Unauthorized, status);
            Assert.Equal("""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}""", body!.ToJsonString());
        }

        _k8s.RemoveServiceAccount(_reader);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync("api/v1/namespaces/chat/pods")).Status);
    }

    [Fact]
    public async Task Rbac_allows_only_the_granted_verbs_in_the_granted_namespaces()
    {
        var (status, body) = await GetAsync("api/v1/namespaces/other/pods");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("Forbidden", body!["reason"]!.GetValue<string>());
        Assert.Equal(403, body["code"]!.GetValue<int>());
        Assert.Equal("pods is forbidden: User \"system:serviceaccount:monitoring:tocsin\" cannot list resource \"pods\" in API group \"\" in the namespace \"other\"",
            body["message"]!.GetValue<string>());

        (status, body) = await GetAsync("api/v1/pods");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.EndsWith("cannot list resource \"pods\" in API group \"\" at the cluster scope", body!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        var lister = _k8s.AddServiceAccount("monitoring", "lister", "lister-token").Allow("chat", "list");
        Assert.Equal(HttpStatusCode.OK, (await GetAsync("api/v1/namespaces/chat/pods", "lister-token")).Status);
        (status, body) = await GetAsync("api/v1/namespaces/chat/pods/rocketchat-0", "lister-token");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("pods \"rocketchat-0\" is forbidden: User \"system:serviceaccount:monitoring:lister\" cannot get resource \"pods\" in API group \"\" in the namespace \"chat\"",
            body!["message"]!.GetValue<string>());

        (status, body) = await GetAsync("api/v1/namespaces/chat/pods/rocketchat-0");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Pod", body!["kind"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("api/v1/namespaces/chat/pods/nope")).Status);

        _k8s.AddServiceAccount("kube-system", "admin", "admin-token").Allow(null, "list");
        (status, body) = await GetAsync("api/v1/pods", "admin-token");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(5, body!["items"]!.AsArray().Count);
    }

    [Fact]
    public async Task Scripted_changes_show_in_the_next_list_with_a_new_resource_version()
    {
        string before = (await GetAsync("api/v1/namespaces/chat/pods")).Body!["metadata"]!["resourceVersion"]!.GetValue<string>();
        var terminating = _k8s.Terminate("chat", "rocketchat-1");
        Assert.NotNull(terminating.DeletionTimestamp);
        _k8s.Update("chat", "rocketchat-0", p => p with { Ready = false });
        Assert.True(_k8s.Delete("chat", "mongodb-0"));
        Assert.False(_k8s.Delete("chat", "mongodb-0"));
        Assert.Throws<KeyNotFoundException>(() => _k8s.Update("chat", "nope", p => p));

        var body = (await GetAsync("api/v1/namespaces/chat/pods")).Body!;
        Assert.NotEqual(before, body["metadata"]!["resourceVersion"]!.GetValue<string>());
        var items = body["items"]!.AsArray();
        Assert.Equal(3, items.Count);
        Assert.Contains(items[0]!["status"]!["conditions"]!.AsArray(), c => c!["type"]!.GetValue<string>() == "Ready" && c["status"]!.GetValue<string>() == "False");
        Assert.NotNull(items[1]!["metadata"]!["deletionTimestamp"]);
    }

    [Fact]
    public async Task Version_answers_without_a_token()
    {
        var (status, body) = await GetAsync("version", token: null);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("v1.31.4", body!["gitVersion"]!.GetValue<string>());
        Assert.Equal("31", body["minor"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_kubeconfig_it_writes_is_read_by_KubernetesClient_which_lists_pods_with_it()
    {
        using var folder = new TempFolder();
        string path = _k8s.WriteKubeconfig(folder.File("kubeconfig"), _reader, "chat");
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }

        var config = KubernetesClientConfiguration.BuildConfigFromConfigFile(path);
        Assert.Equal("chat", config.Namespace);
        Assert.Equal("reader-token", config.AccessToken);
        Assert.Equal(_k8s.BaseAddress.GetLeftPart(UriPartial.Authority), config.Host.TrimEnd('/'));
        using var client = new Kubernetes(config);
        var pods = await client.CoreV1.ListNamespacedPodAsync("chat", labelSelector: "tier in (web)", cancellationToken: Ct);
        Assert.Equal("rocketchat-0", Assert.Single(pods.Items).Metadata.Name);
        Assert.Equal("10.1.0.10", pods.Items[0].Status.PodIP);
        Assert.Equal(1, _k8s.CallCount("GET /api/v1/namespaces/{namespace}/pods"));
    }
}
