using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Tocsin.RocketChatEmulator;
using Emulator = Tocsin.RocketChatEmulator.RocketChatEmulator;

namespace Tocsin.Core.Tests.Tools;

/// <summary>The Rocket.Chat cluster emulator's apps, instances and info endpoints and its scripting, through a real HttpClient.</summary>
public sealed class RocketChatEmulatorTests : IAsyncLifetime
{
    private static readonly RocketChatApp ClamAv = new("4d4c3a2b-0000-4000-8000-00000000c1a4", "ClamAV", "2.1.0");
    private static readonly RocketChatApp Jitsi = new("4d4c3a2b-0000-4000-8000-0000000017c1", "Jitsi", "1.4.2");

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(20) };
    private Emulator _chat = null!;
    private RocketChatUser _bot = null!;

    public async ValueTask InitializeAsync()
    {
        _chat = await Emulator.StartAsync(
            new RocketChatEmulatorOptions { Instances = 3, Time = _time, Versions = ["6.13.0", "6.13.0", "6.12.1"] },
            TestContext.Current.CancellationToken);
        _bot = _chat.State.AddUser("tocsin-bot");
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _chat.DisposeAsync();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(HttpMethod method, int instance, string path, string? json = null, bool auth = true, string? pat = null)
    {
        using var request = new HttpRequestMessage(method, _chat.Instances[instance].Url(path));
        if (auth)
        {
            request.Headers.Add("X-User-Id", _bot.Id);
            request.Headers.Add("X-Auth-Token", pat ?? _bot.Pat);
        }

        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await _http.SendAsync(request, Ct);
        string text = await response.Content.ReadAsStringAsync(Ct);
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    private Task<(HttpStatusCode Status, JsonNode? Body)> GetAsync(int instance, string path, bool auth = true, string? pat = null) =>
        SendAsync(HttpMethod.Get, instance, path, auth: auth, pat: pat);

    private Task<(HttpStatusCode Status, JsonNode? Body)> EnableAsync(int instance, string appId, string body = """{"status":"manually_enabled"}""") =>
        SendAsync(HttpMethod.Post, instance, $"api/apps/{appId}/status", body);

    private async Task<Dictionary<string, string>> InstalledAsync(int instance)
    {
        var (status, body) = await GetAsync(instance, "api/apps/installed");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True((bool)body!["success"]!);
        return body["apps"]!.AsArray().ToDictionary(a => (string)a!["id"]!, a => (string)a!["status"]!);
    }

    [Fact]
    public async Task Installed_lists_each_instance_s_own_statuses_in_rocket_chat_s_shape()
    {
        _chat.InstallApp(ClamAv);
        _chat.InstallAppPerInstance(Jitsi, RocketChatAppStatus.AutoEnabled, null, RocketChatAppStatus.ManuallyDisabled);
        _chat.Instances[1].SetAppStatus(ClamAv.Id, RocketChatAppStatus.Disabled);

        var (status, body) = await GetAsync(0, "api/apps/installed");

        Assert.Equal(HttpStatusCode.OK, status);
        var apps = body!["apps"]!.AsArray();
        Assert.Equal(2, apps.Count);
        var clam = apps.Single(a => (string)a!["id"]! == ClamAv.Id)!;
        Assert.Equal(("ClamAV", "2.1.0", "manually_enabled"), ((string)clam["name"]!, (string)clam["version"]!, (string)clam["status"]!));
        Assert.Equal(new Dictionary<string, string> { [ClamAv.Id] = "disabled" }, await InstalledAsync(1));
        Assert.Equal(new Dictionary<string, string> { [ClamAv.Id] = "manually_enabled", [Jitsi.Id] = "manually_disabled" }, await InstalledAsync(2));
        Assert.Equal(["manually_enabled", "disabled", "manually_enabled"], _chat.AppStatuses(ClamAv.Id));
        Assert.Equal(["auto_enabled", null, "manually_disabled"], _chat.AppStatuses(Jitsi.Id));
    }

    [Theory]
    [InlineData("GET", "api/apps/installed")]
    [InlineData("GET", "api/apps/{app}/status")]
    [InlineData("POST", "api/apps/{app}/status")]
    [InlineData("GET", "api/v1/instances.get")]
    public async Task Every_endpoint_but_info_refuses_a_missing_or_wrong_pat_with_401(string method, string path)
    {
        _chat.InstallApp(ClamAv);
        path = path.Replace("{app}", ClamAv.Id, StringComparison.Ordinal);
        string? json = method == "POST" ? """{"status":"manually_disabled"}""" : null;

        var missing = await SendAsync(new HttpMethod(method), 0, path, json, auth: false);
        var wrong = await SendAsync(new HttpMethod(method), 0, path, json, pat: "not-the-token-0123456789");

        foreach (var (status, body) in new[] { missing, wrong })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, status);
            Assert.Equal("error", (string)body!["status"]!);
            Assert.Equal("You must be logged in to do this.", (string)body["message"]!);
        }

        Assert.Equal(["manually_enabled", "manually_enabled", "manually_enabled"], _chat.AppStatuses(ClamAv.Id));
        var (infoStatus, _) = await GetAsync(0, "api/info", auth: false);
        Assert.Equal(HttpStatusCode.OK, infoStatus);
    }

    [Fact]
    public async Task Posting_a_status_sets_it_on_that_instance_only_and_answers_it()
    {
        _chat.InstallApp(ClamAv, RocketChatAppStatus.ManuallyDisabled);

        var (status, body) = await EnableAsync(1, ClamAv.Id);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"status":"manually_enabled","success":true}""", body!.ToJsonString());
        Assert.Equal(["manually_disabled", "manually_enabled", "manually_disabled"], _chat.AppStatuses(ClamAv.Id));
        Assert.Equal("manually_enabled", (await InstalledAsync(1))[ClamAv.Id]);
        var (getStatus, getBody) = await GetAsync(1, $"api/apps/{ClamAv.Id}/status");
        Assert.Equal((HttpStatusCode.OK, """{"status":"manually_enabled","success":true}"""), (getStatus, getBody!.ToJsonString()));
    }

    [Fact]
    public async Task An_unknown_app_is_404_with_rocket_chat_s_body()
    {
        _chat.InstallAppPerInstance(ClamAv, RocketChatAppStatus.ManuallyEnabled, null);

        var (status, body) = await EnableAsync(1, ClamAv.Id);
        var (getStatus, getBody) = await GetAsync(0, "api/apps/no-such-app/status");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal($$"""{"success":false,"error":"No App found by the id of: {{ClamAv.Id}}"}""", body!.ToJsonString());
        Assert.Equal(HttpStatusCode.NotFound, getStatus);
        Assert.Equal("No App found by the id of: no-such-app", (string)getBody!["error"]!);
    }

    [Theory]
    [InlineData("{}", "Invalid status provided, it must be \"status\" field and a string.")]
    [InlineData("""{"status":1}""", "Invalid status provided, it must be \"status\" field and a string.")]
    [InlineData("not json", "Invalid status provided, it must be \"status\" field and a string.")]
    [InlineData("""{"status":"enabled"}""", "Invalid status to change an App to, must be manually disabled or enabled.")]
    [InlineData("""{"status":"auto_enabled"}""", "Invalid status to change an App to, must be manually disabled or enabled.")]
    public async Task An_invalid_status_is_400_and_changes_nothing(string json, string error)
    {
        _chat.InstallApp(ClamAv, RocketChatAppStatus.ManuallyDisabled);

        var (status, body) = await EnableAsync(0, ClamAv.Id, json);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.False((bool)body!["success"]!);
        Assert.Equal(error, (string)body["error"]!);
        Assert.Equal("manually_disabled", _chat.Instances[0].AppStatus(ClamAv.Id));
    }

    [Fact]
    public async Task An_enable_fails_with_500_or_a_refusal_and_the_status_stays()
    {
        _chat.InstallApp(ClamAv, RocketChatAppStatus.Disabled);
        _chat.Instances[0].FailStatusChanges(ClamAv.Id, RocketChatStatusChangeFailure.Http500);
        _chat.Instances[1].FailStatusChanges(ClamAv.Id, RocketChatStatusChangeFailure.Refused);

        var (s0, b0) = await EnableAsync(0, ClamAv.Id);
        var (s1, b1) = await EnableAsync(1, ClamAv.Id);
        var (s2, _) = await EnableAsync(2, ClamAv.Id);

        Assert.Equal((HttpStatusCode.InternalServerError, """{"success":false,"error":"Internal server error"}"""), (s0, b0!.ToJsonString()));
        Assert.Equal(HttpStatusCode.BadRequest, s1);
        Assert.False((bool)b1!["success"]!);
        Assert.Equal(HttpStatusCode.OK, s2);
        Assert.Equal(["disabled", "disabled", "manually_enabled"], _chat.AppStatuses(ClamAv.Id));
    }

    [Fact]
    public async Task A_failure_for_a_number_of_times_heals_after_them()
    {
        _chat.InstallApp(ClamAv, RocketChatAppStatus.Disabled);
        _chat.Instances[0].FailStatusChanges(ClamAv.Id, RocketChatStatusChangeFailure.Http500, times: 2);

        var first = await EnableAsync(0, ClamAv.Id);
        var second = await EnableAsync(0, ClamAv.Id);
        var third = await EnableAsync(0, ClamAv.Id);

        Assert.Equal([HttpStatusCode.InternalServerError, HttpStatusCode.InternalServerError, HttpStatusCode.OK], new[] { first.Status, second.Status, third.Status });
        Assert.Equal("manually_enabled", _chat.Instances[0].AppStatus(ClamAv.Id));
    }

    [Fact]
    public async Task An_enable_that_does_not_stick_answers_success_but_the_status_stays()
    {
        _chat.InstallApp(ClamAv, RocketChatAppStatus.ErrorDisabled);
        _chat.Instances[2].FailStatusChanges(ClamAv.Id, RocketChatStatusChangeFailure.DoesNotStick);

        var (status, body) = await EnableAsync(2, ClamAv.Id);

        Assert.Equal((HttpStatusCode.OK, """{"status":"manually_enabled","success":true}"""), (status, body!.ToJsonString()));
        Assert.Equal("error_disabled", (await InstalledAsync(2))[ClamAv.Id]);
    }

    [Fact]
    public async Task An_enable_that_reverts_shows_once_then_the_old_status_is_back()
    {
        _chat.InstallApp(ClamAv, RocketChatAppStatus.ManuallyDisabled);
        _chat.Instances[0].FailStatusChanges(ClamAv.Id, RocketChatStatusChangeFailure.RevertsAfterOneRead);

        var (status, _) = await EnableAsync(0, ClamAv.Id);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("manually_enabled", (await InstalledAsync(0))[ClamAv.Id]);
        Assert.Equal("manually_disabled", (await InstalledAsync(0))[ClamAv.Id]);
    }

    [Fact]
    public async Task An_enable_that_errors_answers_and_leaves_error_disabled()
    {
        _chat.InstallApp(ClamAv, RocketChatAppStatus.ManuallyDisabled);
        _chat.Instances[1].FailStatusChanges(ClamAv.Id, RocketChatStatusChangeFailure.ErrorDisabled);

        var (status, body) = await EnableAsync(1, ClamAv.Id);

        Assert.Equal((HttpStatusCode.OK, """{"status":"error_disabled","success":true}"""), (status, body!.ToJsonString()));
        Assert.Equal("error_disabled", _chat.Instances[1].AppStatus(ClamAv.Id));
    }

    [Fact]
    public async Task Calls_are_counted_per_endpoint_and_instance_even_when_failing()
    {
        _chat.InstallApp(ClamAv);
        _chat.Instances[1].Failure = RocketChatFailure.Http500;

        await InstalledAsync(0);
        await InstalledAsync(0);
        var (failed, _) = await GetAsync(1, "api/apps/installed");
        await EnableAsync(2, ClamAv.Id);

        Assert.Equal(HttpStatusCode.InternalServerError, failed);
        Assert.Equal(2, _chat.Instances[0].CallCount(RocketChatEndpoints.AppsInstalled));
        Assert.Equal(1, _chat.Instances[1].CallCount(RocketChatEndpoints.AppsInstalled));
        Assert.Equal(0, _chat.Instances[0].CallCount(RocketChatEndpoints.AppStatusChange));
        Assert.Equal(1, _chat.Instances[2].CallCount(RocketChatEndpoints.AppStatusChange, $"/api/apps/{ClamAv.Id}/status"));
        Assert.Equal(1, _chat.CallCount(RocketChatEndpoints.AppStatusChange));
        Assert.Equal(3, _chat.CallCount(RocketChatEndpoints.AppsInstalled));
        var call = Assert.Single(_chat.Instances[2].Calls);
        Assert.Equal(("POST /api/apps/{id}/status", _time.GetUtcNow()), (call.Endpoint, call.Time));

        _chat.Instances[0].ClearCalls();
        Assert.Empty(_chat.Instances[0].Calls);
    }

    [Fact]
    public async Task A_slow_instance_delays_every_answer_and_the_others_do_not()
    {
        // A delay far above what a loopback answer takes even on a loaded machine, so that "fast" is not a race.
        _chat.Instances[1].Delay = TimeSpan.FromMilliseconds(1500);

        var slow = Stopwatch.StartNew();
        var (status, _) = await GetAsync(1, "api/info", auth: false);
        slow.Stop();
        var fast = Stopwatch.StartNew();
        await GetAsync(0, "api/info", auth: false);
        fast.Stop();

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(slow.Elapsed >= TimeSpan.FromMilliseconds(1490), $"slow answer took {slow.Elapsed}");
        Assert.True(fast.Elapsed < TimeSpan.FromMilliseconds(1000), $"fast answer took {fast.Elapsed}");
        Assert.Equal(1, _chat.Instances[1].CallCount(RocketChatEndpoints.Info));
    }

    [Fact]
    public async Task Info_answers_each_instance_s_version()
    {
        _chat.Instances[0].Version = "7.0.0";

        var versions = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            var (_, body) = await GetAsync(i, "api/info", auth: false);
            Assert.True((bool)body!["success"]!);
            versions.Add((string)body["version"]!);
        }

        Assert.Equal(["7.0.0", "6.13.0", "6.12.1"], versions);
    }

    [Fact]
    public async Task Instances_get_lists_the_cluster_with_the_answering_one_local_and_phantoms_last()
    {
        var phantom = _chat.State.AddPhantomInstance("10.0.0.9", 3000);

        var (status, body) = await GetAsync(1, "api/v1/instances.get");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True((bool)body!["success"]!);
        var list = body["instances"]!.AsArray();
        Assert.Equal(4, list.Count);
        for (int i = 0; i < 3; i++)
        {
            var entry = list[i]!;
            var instance = _chat.Instances[i];
            Assert.Equal("127.0.0.1", (string)entry["address"]!);
            Assert.True((bool)entry["currentStatus"]!["connected"]!);
            Assert.Equal(i == 1, (bool)entry["currentStatus"]!["local"]!);
            Assert.Equal(_time.GetUtcNow().ToUnixTimeMilliseconds(), (long)entry["currentStatus"]!["lastHeartbeatTime"]!);
            Assert.Equal(instance.Id, (string)entry["instanceRecord"]!["_id"]!);
            var extra = entry["instanceRecord"]!["extraInformation"]!;
            Assert.Equal("127.0.0.1", (string)extra["host"]!);
            Assert.Equal(instance.BaseAddress.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), (string)extra["port"]!);
            Assert.True((bool)entry["broadcastAuth"]!);
        }

        var p = list[3]!;
        Assert.Equal(("10.0.0.9", "10.0.0.9", "3000", true, false),
            ((string)p["address"]!, (string)p["instanceRecord"]!["extraInformation"]!["host"]!, (string)p["instanceRecord"]!["extraInformation"]!["port"]!,
             (bool)p["currentStatus"]!["connected"]!, (bool)p["currentStatus"]!["local"]!));
        Assert.Equal(phantom.Id, (string)p["instanceRecord"]!["_id"]!);
    }

    [Fact]
    public async Task A_dead_instance_refuses_connections_and_is_listed_disconnected_with_a_frozen_heartbeat()
    {
        _chat.InstallApp(ClamAv);
        long downAt = _time.GetUtcNow().ToUnixTimeMilliseconds();
        await _chat.Instances[2].GoDownAsync();
        _time.Advance(TimeSpan.FromMinutes(3));

        await Assert.ThrowsAsync<HttpRequestException>(() => GetAsync(2, "api/apps/installed"));
        var (_, body) = await GetAsync(0, "api/v1/instances.get");

        var list = body!["instances"]!.AsArray();
        Assert.Equal(3, list.Count);
        Assert.False((bool)list[2]!["currentStatus"]!["connected"]!);
        Assert.Equal(downAt, (long)list[2]!["currentStatus"]!["lastHeartbeatTime"]!);
        Assert.True((bool)list[1]!["currentStatus"]!["connected"]!);
        Assert.Equal(_time.GetUtcNow().ToUnixTimeMilliseconds(), (long)list[1]!["currentStatus"]!["lastHeartbeatTime"]!);

        await _chat.Instances[2].ComeBackAsync(Ct);
        Assert.Equal("manually_enabled", (await InstalledAsync(2))[ClamAv.Id]);
        var (_, again) = await GetAsync(0, "api/v1/instances.get");
        Assert.True((bool)again!["instances"]![2]!["currentStatus"]!["connected"]!);
    }

    [Fact]
    public void Scripting_rejects_unknown_statuses_and_apps()
    {
        Assert.Throws<ArgumentException>(() => _chat.InstallApp(ClamAv, "enabled"));
        _chat.InstallAppPerInstance(ClamAv, RocketChatAppStatus.AutoEnabled);
        Assert.Throws<ArgumentException>(() => _chat.Instances[0].SetAppStatus(ClamAv.Id, "on"));
        Assert.Throws<KeyNotFoundException>(() => _chat.Instances[1].SetAppStatus(ClamAv.Id, RocketChatAppStatus.Disabled));
        Assert.Throws<KeyNotFoundException>(() => _chat.Instances[1].FailStatusChanges(ClamAv.Id, RocketChatStatusChangeFailure.Http500));
        Assert.Throws<ArgumentException>(() => _chat.InstallAppPerInstance(Jitsi, "disabled", "disabled", "disabled", "disabled"));
        Assert.True(_chat.Instances[0].UninstallApp(ClamAv.Id));
        Assert.Equal([null, null, null], _chat.AppStatuses(ClamAv.Id));
        Assert.Equal(12, RocketChatAppStatus.All.Count);
        Assert.True(RocketChatAppStatus.IsEnabled("auto_enabled") && RocketChatAppStatus.IsEnabled("manually_enabled") && !RocketChatAppStatus.IsEnabled("disabled"));
    }
}
