using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary>
/// One <c>tocsin start</c> child with <c>web.auth</c> made by the real <c>tocsin auth hash</c> (a token and a user
/// whose password was piped on stdin), <c>web.title</c> and <c>web.relatedMonitors</c>, running three checks every
/// second: an http check named like seed 004's (slashes), one against a 500, and a tcp check.
/// </summary>
public sealed class OpsAgent : ThreeCheckAgent
{
    public const string UserName = "admin";
    public const string Password = "correct horse battery staple";
    public const string Title = "KVM Monitoring interface";
    public const string RelatedMonitor = "https://other-monitor.example.org/";

    private string _tokenSha256 = null!;
    private string _passwordHash = null!;

    public string Token { get; private set; } = null!;

    protected override string OkPath => "/ok";

    protected override async Task PrepareAsync()
    {
        var tokenRun = await TocsinProcess.RunAsync(Folder.Path, "auth", "hash", "--token");
        Assert.True(tokenRun.ExitCode == 0, tokenRun.ToString());
        var lines = tokenRun.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Token = lines.Single(l => l.StartsWith("token: ", StringComparison.Ordinal))["token: ".Length..];
        _tokenSha256 = lines.Single(l => l.StartsWith("tokenSha256: ", StringComparison.Ordinal))["tokenSha256: ".Length..];
        var hashRun = await TocsinProcess.RunWithInputAsync(Folder.Path, Password + "\n", "auth", "hash");
        Assert.True(hashRun.ExitCode == 0, hashRun.ToString());
        _passwordHash = hashRun.Stdout.Trim();
    }

    protected override void Configure(JsonObject root)
    {
        var web = root["web"]!.AsObject();
        web["title"] = Title;
        web["relatedMonitors"] = new JsonArray(RelatedMonitor);
        web["auth"] = new JsonObject
        {
            ["tokens"] = new JsonArray(new JsonObject { ["name"] = "ops", ["tokenSha256"] = _tokenSha256 }),
            ["users"] = new JsonArray(new JsonObject { ["name"] = UserName, ["passwordHash"] = _passwordHash }),
        };
    }
}

/// <summary>/metrics, /readyz, access control and the SlapOS files of a running agent.</summary>
public sealed class WebOpsTests(OpsAgent agent) : IClassFixture<OpsAgent>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Uri Rel(string path) => new(path, UriKind.Relative);

    [Fact]
    public async Task Metrics_are_prometheus_text_with_typed_tocsin_families_and_the_failing_check_s_state_is_2()
    {
        using var response = await agent.Http.GetAsync(Rel("/metrics"), Ct);
        string text = await response.Content.ReadAsStringAsync(Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.ToString(), StringComparison.Ordinal);
        var scrape = PrometheusText.Parse(text);
        var expected = new Dictionary<string, string>
        {
            ["tocsin_check_runs_total"] = "counter",
            ["tocsin_scheduler_skipped_total"] = "counter",
            ["tocsin_scheduler_lag_seconds"] = "histogram",
            ["tocsin_check_duration_seconds"] = "histogram",
            ["tocsin_results_written_total"] = "counter",
            ["tocsin_results_write_failures_total"] = "counter",
            ["tocsin_export_rows_total"] = "counter",
            ["tocsin_export_failures_total"] = "counter",
            ["tocsin_outbox_dropped_total"] = "counter",
            ["tocsin_outbox_size_bytes"] = "gauge",
            ["tocsin_results_queued"] = "gauge",
            ["tocsin_check_state"] = "gauge",
            ["tocsin_check_last_run_timestamp_seconds"] = "gauge",
            ["process_cpu_seconds_total"] = "counter",
        };
        foreach (var (name, type) in expected)
        {
            Assert.True(scrape.Types.TryGetValue(name, out string? actual), $"no # TYPE line for {name}");
            Assert.Equal(type, actual);
        }

        Assert.All(scrape.Samples, s => Assert.True(scrape.FamilyOf(s.Name) is not null, $"sample {s.Name} has no # TYPE line"));
        Assert.Equal(2, scrape.Value("tocsin_check_state", ("check", OpsAgent.FailingCheck), ("kind", "http")));
        Assert.Equal(0, scrape.Value("tocsin_check_state", ("check", agent.OkCheck), ("kind", "http")));
        Assert.Equal(0, scrape.Value("tocsin_check_state", ("check", OpsAgent.TcpCheck), ("kind", "tcp")));
        Assert.True(scrape.Value("tocsin_check_runs_total", ("kind", "http"), ("state", "CRITICAL")) >= 2);
        Assert.True(scrape.Value("tocsin_check_duration_seconds_count", ("kind", "tcp")) >= 2);
        Assert.Equal(scrape.Value("tocsin_check_duration_seconds_count", ("kind", "tcp")), scrape.Value("tocsin_check_duration_seconds_bucket", ("kind", "tcp"), ("le", "+Inf")));
        Assert.True(scrape.Value("tocsin_results_written_total") >= 6);
        Assert.True(scrape.Value("tocsin_outbox_size_bytes") > 0);
        double lastRun = scrape.Value("tocsin_check_last_run_timestamp_seconds", ("check", OpsAgent.TcpCheck), ("kind", "tcp"));
        Assert.InRange(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - lastRun, -5, 60);
    }

    [Fact]
    public async Task Readyz_is_200_when_the_outbox_answers_and_the_scheduler_runs()
    {
        using var response = await agent.Http.GetAsync(Rel("/readyz"), Ct);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ready", (string)body["status"]!);
        Assert.Empty(body["failed"]!.AsArray());
        Assert.True((bool)body["outbox"]!["ok"]!);
        Assert.True((bool)body["scheduler"]!["ok"]!);
        Assert.NotNull(body["scheduler"]!["lastLoopAt"]);
    }

    [Fact]
    public async Task Readyz_is_503_naming_the_outbox_while_its_file_is_moved_away_and_200_once_it_is_back()
    {
        string moved = agent.OutboxPath + ".moved";
        File.Move(agent.OutboxPath, moved);
        try
        {
            using var response = await agent.Http.GetAsync(Rel("/readyz"), Ct);
            string text = await response.Content.ReadAsStringAsync(Ct);
            var body = JsonNode.Parse(text)!;

            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("not ready", (string)body["status"]!);
            Assert.Equal(["outbox"], body["failed"]!.AsArray().Select(n => (string)n!));
            Assert.False((bool)body["outbox"]!["ok"]!);
            Assert.Contains("cannot read the outbox", (string)body["outbox"]!["error"]!, StringComparison.Ordinal);
            Assert.True((bool)body["scheduler"]!["ok"]!);
        }
        finally
        {
            File.Move(moved, agent.OutboxPath);
        }

        using var again = await agent.Http.GetAsync(Rel("/readyz"), Ct);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    public static TheoryData<string, string?> WrongCredentials() => new()
    {
        { "none", null },
        { "wrong token", "Bearer not-the-token" },
        { "empty bearer", "Bearer " },
        { "wrong password", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{OpsAgent.UserName}:wrong")) },
        { "unknown user", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"nobody:{OpsAgent.Password}")) },
        { "not base64", "Basic ***" },
        { "other scheme", "Digest username=\"admin\"" },
    };

    [Theory]
    [MemberData(nameof(WrongCredentials))]
    public async Task Private_area_answers_401_with_both_challenges_and_no_detail_without_right_credentials(string what, string? authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Rel("/private/whoami"));
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var response = await agent.Http.SendAsync(request, Ct);
        string body = await response.Content.ReadAsStringAsync(Ct);

        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{what}: {(int)response.StatusCode} {body}");
        Assert.Equal(["Bearer", "Basic"], response.Headers.WwwAuthenticate.Select(h => h.Scheme));
        Assert.All(response.Headers.WwwAuthenticate, h => Assert.Contains("realm=\"tocsin\"", h.Parameter, StringComparison.Ordinal));
        Assert.Equal("", body);
    }

    [Fact]
    public async Task Private_area_answers_the_right_token_and_the_right_basic_user_made_by_tocsin_auth_hash()
    {
        using var byToken = new HttpRequestMessage(HttpMethod.Get, Rel("/private/whoami"));
        byToken.Headers.Authorization = new AuthenticationHeaderValue("Bearer", agent.Token);
        using var tokenResponse = await agent.Http.SendAsync(byToken, Ct);
        var tokenBody = JsonNode.Parse(await tokenResponse.Content.ReadAsStringAsync(Ct))!;

        using var byUser = new HttpRequestMessage(HttpMethod.Get, Rel("/private/whoami"));
        byUser.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{OpsAgent.UserName}:{OpsAgent.Password}")));
        using var userResponse = await agent.Http.SendAsync(byUser, Ct);
        var userBody = JsonNode.Parse(await userResponse.Content.ReadAsStringAsync(Ct))!;

        Assert.Equal(HttpStatusCode.OK, tokenResponse.StatusCode);
        Assert.Equal("ops", (string)tokenBody["name"]!);
        Assert.Equal("bearer", (string)tokenBody["method"]!);
        Assert.Equal(HttpStatusCode.OK, userResponse.StatusCode);
        Assert.Equal(OpsAgent.UserName, (string)userBody["name"]!);
        Assert.Equal("basic", (string)userBody["method"]!);
        Assert.True((bool)userBody["authConfigured"]!);
    }

    [Fact]
    public async Task Read_endpoints_stay_open_without_credentials_when_auth_is_configured()
    {
        foreach (string path in new[] { "/api/v1/checks", "/healthz", "/readyz", "/metrics", "/monitor.haljson", $"/public/{Uri.EscapeDataString(OpsAgent.TcpCheck)}.status.json" })
        {
            using var response = await agent.Http.GetAsync(Rel(path), Ct);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode}");
        }
    }

    [Fact]
    public async Task No_credential_reaches_the_logs_and_nothing_is_logged_as_a_warning()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Rel("/private/whoami"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{OpsAgent.UserName}:{OpsAgent.Password}-wrong")));
        using var _ = await agent.Http.SendAsync(request, Ct);

        string logs = agent.Agent.Stderr + agent.Agent.Stdout;
        Assert.DoesNotContain(agent.Token, logs, StringComparison.Ordinal);
        Assert.DoesNotContain(OpsAgent.Password, logs, StringComparison.Ordinal);
        Assert.DoesNotContain("pbkdf2-sha256$", logs, StringComparison.Ordinal);
        Assert.NotNull(agent.Agent.FindLog("Write endpoints and the private area need credentials: 1 token(s), 1 user(s)"));
        // Wrong credentials are not worth a warning, and the antiforgery keys (in memory) none either. The
        // scheduler's "skipped a run" warnings are left out: they say the machine was loaded (checks every second on
        // a busy 2-core CI machine), which is what they are for, not something this agent's web part did.
        var warnings = agent.Agent.LogLines()
            .Where(l => l.GetProperty("LogLevel").GetString() is "Warning" or "Error" or "Critical")
            .Where(l => l.GetProperty("Category").GetString() != typeof(Tocsin.Scheduling.Scheduler).FullName)
            .Select(l => l.GetRawText())
            .ToList();
        Assert.True(warnings.Count == 0, string.Join('\n', warnings));
    }

    [Fact]
    public async Task Monitor_haljson_has_the_seed_003_shape_and_links_every_check_s_status_file()
    {
        using var response = await agent.Http.GetAsync(Rel("/monitor.haljson"), Ct);
        var hal = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!.AsObject();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/hal+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Superset(new HashSet<string> { "title", "_links", "_embedded" }, hal.Select(p => p.Key).ToHashSet());
        Assert.Equal(OpsAgent.Title, (string)hal["title"]!);
        Assert.Equal("/monitor.haljson", (string)hal["_links"]!["self"]!["href"]!);
        Assert.Equal([OpsAgent.RelatedMonitor], hal["_links"]!["related_monitor"]!.AsArray().Select(l => (string)l!["href"]!));
        var services = hal["_embedded"]!["service"]!.AsArray();
        Assert.Equal(agent.CheckNames, services.Select(s => (string)s!["id"]!));
        foreach (var service in services)
        {
            Assert.Equal(["_links", "id", "title"], service!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
            Assert.Equal((string)service["id"]!, (string)service["title"]!);
            Assert.NotNull(service["_links"]!["interface"]!["href"]);
            string status = (string)service["_links"]!["status"]!["href"]!;
            Assert.StartsWith("/public/", status, StringComparison.Ordinal);
            Assert.EndsWith(".status.json", status, StringComparison.Ordinal);

            using var file = await agent.Http.GetAsync(Rel(status), Ct);
            var body = JsonNode.Parse(await file.Content.ReadAsStringAsync(Ct))!;
            Assert.Equal(HttpStatusCode.OK, file.StatusCode);
            Assert.Equal((string)service["id"]!, (string)body["title"]!);
        }
    }

    [Fact]
    public async Task Status_json_follows_the_slapos_format_error_for_the_failing_check_ok_for_the_others()
    {
        var failing = await StatusOf(OpsAgent.FailingCheck);
        var ok = await StatusOf(agent.OkCheck);

        foreach (var status in new[] { failing, ok })
        {
            Assert.Superset(new HashSet<string> { "status", "message", "title", "start-date", "change-time", "change-date" }, status.AsObject().Select(p => p.Key).ToHashSet());
            Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", (string)status["start-date"]!);
            Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", (string)status["change-date"]!);
            var changed = DateTimeOffset.FromUnixTimeMilliseconds((long)((double)status["change-time"]! * 1000));
            Assert.Equal(changed.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture), (string)status["change-date"]!);
        }

        Assert.Equal("ERROR", (string)failing["status"]!);
        Assert.Equal(OpsAgent.FailingCheck, (string)failing["title"]!);
        Assert.StartsWith("CRITICAL: ", (string)failing["message"]!, StringComparison.Ordinal);
        Assert.Contains("500", (string)failing["message"]!, StringComparison.Ordinal);
        Assert.Equal("OK", (string)ok["status"]!);
        Assert.Equal(agent.OkCheck, (string)ok["title"]!);
    }

    [Theory]
    [InlineData("/public/..%2f..%2fetc%2fpasswd.status.json", HttpStatusCode.BadRequest)]
    [InlineData("/public/..%2F..%2F..%2Fetc%2Fpasswd.status.json", HttpStatusCode.BadRequest)]
    [InlineData("/public/%2e%2e%2f%2e%2e%2fetc%2fpasswd.status.json", HttpStatusCode.BadRequest)]
    [InlineData("/public/..%5c..%5cwindows.status.json", HttpStatusCode.BadRequest)]
    [InlineData("/public/sub/dir.status.json", HttpStatusCode.NotFound)] // a file of check "sub", which does not exist
    [InlineData("/public/no%20such%20check.status.json", HttpStatusCode.NotFound)]
    [InlineData("/public/target%20port.json", HttpStatusCode.NotFound)]
    [InlineData("/public/../../etc/passwd.status.json", HttpStatusCode.NotFound)]
    public async Task Status_file_names_with_slashes_dots_or_unknown_are_refused_and_nothing_is_read_from_disk(string path, HttpStatusCode expected)
    {
        // Sent as written: HttpClient would otherwise resolve the dot segments itself.
        var uri = new Uri(agent.Http.BaseAddress!.GetLeftPart(UriPartial.Authority) + path, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        using var response = await agent.Http.SendAsync(request, Ct);
        string body = await response.Content.ReadAsStringAsync(Ct);

        Assert.True(response.StatusCode == expected, $"{path}: {(int)response.StatusCode} {body}");
        Assert.DoesNotContain("root:", body, StringComparison.Ordinal);
    }

    private async Task<JsonNode> StatusOf(string check)
    {
        using var response = await agent.Http.GetAsync(Rel($"/public/{Uri.EscapeDataString(check)}.status.json"), Ct);
        string text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        return JsonNode.Parse(text)!;
    }

    [Fact]
    public async Task Seed_003_rerun_needs_credentials_runs_the_check_and_refuses_unknown_or_traversing_names()
    {
        Uri Rerun(string name) => Rel("/cgi-bin/monitor-run-promise.cgi?service=" + Uri.EscapeDataString(name));
        using var anonymous = await agent.Http.PostAsync(Rerun(OpsAgent.TcpCheck), null, Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        async Task<HttpResponseMessage> PostAsync(string query)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, Rel("/cgi-bin/monitor-run-promise.cgi" + query));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", agent.Token);
            return await agent.Http.SendAsync(request, Ct);
        }

        long before = OutboxFile.CountResults(agent.OutboxPath, agent.OkCheck);
        using (var rerun = await PostAsync("?service=" + Uri.EscapeDataString(agent.OkCheck)))
        {
            Assert.Equal(HttpStatusCode.NoContent, rerun.StatusCode);
        }

        // Results keep coming (scheduled ones arrive every second too; that RunNow adds a result is shown by the API's run tests).
        await Poll.UntilAsync(() => OutboxFile.CountResults(agent.OutboxPath, agent.OkCheck), n => n > before, TimeSpan.FromSeconds(10), "a result after the rerun", () => agent.Agent.Output);
        foreach (var (query, status) in new[]
        {
            ("", HttpStatusCode.BadRequest),
            ("?service=no%20such%20check", HttpStatusCode.NotFound),
            ("?service=..%2F..%2Fetc%2Fpasswd", HttpStatusCode.BadRequest),
            ("?service=a%2Fb", HttpStatusCode.BadRequest),
        })
        {
            using var response = await PostAsync(query);
            Assert.True(response.StatusCode == status, $"{query}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}");
        }
    }
}

/// <summary>Agents started for one behaviour each: a scheduler that fails, a server open beyond loopback, the hash command.</summary>
public sealed class WebOpsStartTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Readyz_is_503_naming_the_scheduler_once_its_loop_failed_while_healthz_stays_200()
    {
        using var folder = new TempFolder();
        string config = AgentConfig.Write(folder, AgentConfig.Tcp("closed port", 1));
        await using var agent = TocsinProcess.Start(
            folder.Path, ["start", "--config-path", config, "--urls", "http://127.0.0.1:0"],
            new Dictionary<string, string?> { ["TOCSIN_FAILPOINTS"] = "scheduler.loop=throw@3" });
        using var http = new HttpClient { BaseAddress = await agent.ListeningAddressAsync(TimeSpan.FromSeconds(30)), Timeout = TimeSpan.FromSeconds(30) };

        var status = await Poll.UntilAsync(
            () => http.GetAsync(new Uri("/readyz", UriKind.Relative), Ct).GetAwaiter().GetResult(),
            r => r.StatusCode == HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(30), "/readyz to answer 503", () => agent.Output);
        var body = JsonNode.Parse(await status.Content.ReadAsStringAsync(Ct))!;
        using var health = await http.GetAsync(new Uri("/healthz", UriKind.Relative), Ct);

        Assert.Equal(["scheduler"], body["failed"]!.AsArray().Select(n => (string)n!));
        Assert.False((bool)body["scheduler"]!["ok"]!);
        Assert.Contains("not running", (string)body["scheduler"]!["error"]!, StringComparison.Ordinal);
        Assert.True((bool)body["outbox"]!["ok"]!);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        // The log line and the readiness flag are written one after the other; stderr reaches the test later still.
        var died = await Poll.UntilAsync(
            () => agent.FindLog("The scheduler stopped unexpectedly"), d => d is not null, TimeSpan.FromSeconds(15), "the scheduler's critical log line", () => agent.Output);
        Assert.Equal("Critical", died!.Value.GetProperty("LogLevel").GetString());
    }

    [Fact]
    public async Task Listening_beyond_loopback_without_auth_logs_a_warning_at_start()
    {
        using var folder = new TempFolder();
        string config = AgentConfig.Write(folder);
        await using var agent = TocsinProcess.Start(folder.Path, ["start", "--config-path", config, "--urls", "http://0.0.0.0:0"]);
        await agent.ListeningAddressAsync(TimeSpan.FromSeconds(30));

        var line = agent.FindLog("The web server listens beyond loopback");
        Assert.True(line is not null, agent.Output);
        Assert.Equal("Warning", line.Value.GetProperty("LogLevel").GetString());
        Assert.Contains("http://0.0.0.0:0", line.Value.GetProperty("Message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Auth_hash_without_a_password_on_stdin_exits_64_and_prints_no_hash()
    {
        using var folder = new TempFolder();
        var run = await TocsinProcess.RunWithInputAsync(folder.Path, "", "auth", "hash");

        Assert.True(run.ExitCode == 64, run.ToString());
        Assert.Equal("", run.Stdout);
        Assert.Contains("No password given", run.Stderr, StringComparison.Ordinal);
    }
}

/// <summary>A small parser of Prometheus' text exposition format (version 0.0.4), for assertions.</summary>
internal sealed class PrometheusText
{
    public Dictionary<string, string> Types { get; } = new(StringComparer.Ordinal);

    public List<(string Name, Dictionary<string, string> Labels, double Value)> Samples { get; } = [];

    public static PrometheusText Parse(string text)
    {
        var result = new PrometheusText();
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }

            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                string[] parts = line.Split(' ');
                Assert.Equal(4, parts.Length);
                result.Types[parts[2]] = parts[3];
                continue;
            }

            if (line.StartsWith('#'))
            {
                continue;
            }

            int i = 0;
            while (i < line.Length && (char.IsAsciiLetterOrDigit(line[i]) || line[i] is '_' or ':'))
            {
                i++;
            }

            string name = line[..i];
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            if (i < line.Length && line[i] == '{')
            {
                i++;
                while (line[i] != '}')
                {
                    int eq = line.IndexOf('=', i);
                    string key = line[i..eq];
                    Assert.Equal('"', line[eq + 1]);
                    var value = new StringBuilder();
                    int j = eq + 2;
                    for (; line[j] != '"'; j++)
                    {
                        if (line[j] == '\\')
                        {
                            j++;
                            value.Append(line[j] == 'n' ? '\n' : line[j]);
                        }
                        else
                        {
                            value.Append(line[j]);
                        }
                    }

                    labels[key] = value.ToString();
                    i = j + 1;
                    if (line[i] == ',')
                    {
                        i++;
                    }
                }

                i++;
            }

            string number = line[i..].Trim().Split(' ')[0];
            double v = number switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                _ => double.Parse(number, System.Globalization.CultureInfo.InvariantCulture),
            };
            result.Samples.Add((name, labels, v));
        }

        return result;
    }

    /// <summary>The family a sample belongs to (its name, or without _bucket/_sum/_count for histograms), or null without a TYPE line.</summary>
    public string? FamilyOf(string sample)
    {
        if (Types.ContainsKey(sample))
        {
            return sample;
        }

        foreach (string suffix in new[] { "_bucket", "_sum", "_count" })
        {
            if (sample.EndsWith(suffix, StringComparison.Ordinal) && Types.TryGetValue(sample[..^suffix.Length], out string? t) && t is "histogram" or "summary")
            {
                return sample[..^suffix.Length];
            }
        }

        return null;
    }

    /// <summary>The value of the one sample with that name and exactly those labels.</summary>
    public double Value(string name, params (string Key, string Value)[] labels)
    {
        var matches = Samples.Where(s => s.Name == name && s.Labels.Count == labels.Length && labels.All(l => s.Labels.TryGetValue(l.Key, out string? v) && v == l.Value)).ToList();
        Assert.True(matches.Count == 1, $"expected one sample {name}{{{string.Join(",", labels.Select(l => $"{l.Key}=\"{l.Value}\""))}}}, found {matches.Count}");
        return matches[0].Value;
    }
}
