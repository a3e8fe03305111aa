using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary>
/// A real <c>tocsin start</c> child with a promise whose <c>.cfg</c> lists public and private paths (seed 003), and
/// <c>web.auth</c> set to a bearer token: the layout of <c>/public/&lt;check&gt;/…</c> and <c>/private/&lt;check&gt;/…</c>.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PromisePathsAgent : IAsyncLifetime
{
    public const string Check = "disk-report";

    public const string Secret = "TOP SECRET outside every listed path";

    public TempFolder Folder { get; } = new();

    public string Token { get; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));

    public TocsinProcess Agent { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        string F(string relative) => Folder.File(relative);
        void Write(string relative, string text)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(F(relative))!);
            File.WriteAllText(F(relative), text);
        }

        Write("secret.txt", Secret);
        Write("srv/report/index.txt", "the report\n");
        Write("srv/report/sub/nested.json", """{"nested":true}""");
        Write("srv/report/big.log", string.Concat(Enumerable.Range(0, 1000).Select(i => $"line {i:D4}\n")));
        File.CreateSymbolicLink(F("srv/report/escape"), F("secret.txt"));
        File.CreateSymbolicLink(F("srv/report/escape-dir"), Folder.Path);
        File.CreateSymbolicLink(F("srv/report/inner"), F("srv/report/sub/nested.json"));
        Write("srv/single.log", "one file\n");
        Write("srv/private-data/private.txt", "for operators only\n");

        string dir = F("etc/monitor-promise");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, Check + ".cfg"), $"[service]\ntitle = Disk report\npublic-path-list = {F("srv/report")} {F("srv/single.log")}\nprivate-path-list = {F("srv/private-data")}\n");
        string script = Path.Combine(dir, Check);
        File.WriteAllText(script, "#!/bin/sh\necho 'OK - fine'\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        string config = AgentConfig.Write(Folder);
        AgentConfig.Edit(config, root =>
        {
            root["promiseDirectories"] = new JsonArray("etc/monitor-promise");
            root["web"]!["auth"] = new JsonObject
            {
                ["tokens"] = new JsonArray(new JsonObject { ["name"] = "ops", ["tokenSha256"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Token))) }),
            };
        });
        Agent = TocsinProcess.Start(Folder.Path, ["start", "--config-path", config, "--urls", "http://127.0.0.1:0"]);
        Http = new HttpClient { BaseAddress = await Agent.ListeningAddressAsync(TimeSpan.FromSeconds(30)), Timeout = TimeSpan.FromSeconds(30) };
    }

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        if (Agent is not null)
        {
            await Agent.DisposeAsync();
        }

        Folder.Dispose();
    }
}

/// <summary>Paths of <c>public-path-list</c> and <c>private-path-list</c> served, confined to what is listed.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PromisePathsTests(PromisePathsAgent agent) : IClassFixture<PromisePathsAgent>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Sends <paramref name="path"/> exactly as written (HttpClient would otherwise resolve dot segments).</summary>
    private async Task<(HttpResponseMessage Response, string Body)> GetRawAsync(string path, string? token = null, RangeHeaderValue? range = null)
    {
        var uri = new Uri(agent.Http.BaseAddress!.GetLeftPart(UriPartial.Authority) + path, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        request.Headers.Range = range;
        var response = await agent.Http.SendAsync(request, Ct);
        return (response, await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task A_listed_file_and_files_inside_a_listed_directory_are_served_with_their_content_type()
    {
        var (single, singleBody) = await GetRawAsync($"/public/{PromisePathsAgent.Check}/single.log");
        var (index, indexBody) = await GetRawAsync($"/public/{PromisePathsAgent.Check}/report/index.txt");
        var (nested, nestedBody) = await GetRawAsync($"/public/{PromisePathsAgent.Check}/report/sub/nested.json");
        var (inner, innerBody) = await GetRawAsync($"/public/{PromisePathsAgent.Check}/report/inner");

        Assert.Equal(HttpStatusCode.OK, single.StatusCode);
        Assert.Equal("one file\n", singleBody);
        Assert.Equal("text/plain", single.Content.Headers.ContentType!.MediaType);
        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        Assert.Equal("the report\n", indexBody);
        Assert.Equal(["nosniff"], index.Headers.GetValues("X-Content-Type-Options"));
        Assert.Equal(["sandbox"], index.Headers.GetValues("Content-Security-Policy"));
        Assert.Equal(HttpStatusCode.OK, nested.StatusCode);
        Assert.Equal("""{"nested":true}""", nestedBody);
        Assert.Equal("application/json", nested.Content.Headers.ContentType!.MediaType);
        Assert.True(inner.StatusCode == HttpStatusCode.OK, $"a link that stays inside: {(int)inner.StatusCode} {innerBody}");
        Assert.Equal("""{"nested":true}""", innerBody);
        foreach (var r in new[] { single, index, nested, inner })
        {
            r.Dispose();
        }
    }

    [Fact]
    public async Task Ranges_are_served_by_the_framework()
    {
        var (response, body) = await GetRawAsync($"/public/{PromisePathsAgent.Check}/report/big.log", range: new RangeHeaderValue(10, 19));
        using (response)
        {
            Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
            Assert.Equal("line 0001\n", body);
            Assert.Equal("bytes", response.Headers.AcceptRanges.Single());
        }
    }

    [Fact]
    public async Task Directories_get_a_small_listing_and_the_status_file_is_not_shadowed()
    {
        var (root, rootBody) = await GetRawAsync($"/public/{PromisePathsAgent.Check}/");
        var (dir, dirBody) = await GetRawAsync($"/public/{PromisePathsAgent.Check}/report/");
        var (status, statusBody) = await GetRawAsync($"/public/{PromisePathsAgent.Check}.status.json");

        Assert.Equal(HttpStatusCode.OK, root.StatusCode);
        Assert.Equal("text/html", root.Content.Headers.ContentType!.MediaType);
        Assert.Contains($"href=\"/public/{PromisePathsAgent.Check}/report/\"", rootBody, StringComparison.Ordinal);
        Assert.Contains($"href=\"/public/{PromisePathsAgent.Check}/single.log\"", rootBody, StringComparison.Ordinal);
        Assert.DoesNotContain("private-data", rootBody, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, dir.StatusCode);
        Assert.Contains($"href=\"/public/{PromisePathsAgent.Check}/report/sub/\"", dirBody, StringComparison.Ordinal);
        Assert.Contains($"href=\"/public/{PromisePathsAgent.Check}/report/index.txt\"", dirBody, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, status.StatusCode);
        Assert.Equal(PromisePathsAgent.Check, (string)JsonNode.Parse(statusBody)!["title"]!);
        foreach (var r in new[] { root, dir, status })
        {
            r.Dispose();
        }
    }

    [Theory]
    [InlineData("/public/disk-report/report/../../secret.txt")]
    [InlineData("/public/disk-report/report/sub/../../../secret.txt")]
    [InlineData("/public/disk-report/report/%2e%2e/%2e%2e/secret.txt")]
    [InlineData("/public/disk-report/report/%2E%2E%2F%2E%2E%2Fsecret.txt")]
    [InlineData("/public/disk-report/report/..%2f..%2fsecret.txt")]
    [InlineData("/public/disk-report/report/..%5c..%5csecret.txt")]
    [InlineData("/public/disk-report/report/index.txt%00.json")]
    [InlineData("/public/disk-report/report/%0aindex.txt")]
    [InlineData("/public/disk-report/report//index.txt")]
    [InlineData("/public/disk-report/report/./index.txt")]
    [InlineData("/public/disk-report/report/escape")]
    [InlineData("/public/disk-report/report/escape-dir/secret.txt")]
    [InlineData("/public/disk-report/report/escape-dir/")]
    [InlineData("/public/disk-report/single.log/../secret.txt")]
    [InlineData("/public/disk-report/secret.txt")]
    [InlineData("/public/disk-report/private-data/private.txt")]
    [InlineData("/public/..%2fdisk-report/report/index.txt")]
    public async Task Traversal_encoded_traversal_control_characters_and_escaping_links_are_refused(string path)
    {
        var (response, body) = await GetRawAsync(path);
        using (response)
        {
            Assert.True(
                response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound,
                $"{path}: {(int)response.StatusCode} {body}");
            Assert.DoesNotContain("TOP SECRET", body, StringComparison.Ordinal);
            Assert.DoesNotContain("for operators", body, StringComparison.Ordinal);
            Assert.DoesNotContain("the report", body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task An_unknown_check_or_a_name_not_listed_is_404()
    {
        var (unknown, unknownBody) = await GetRawAsync("/public/no-such-check/report/index.txt");
        var (notListed, _) = await GetRawAsync($"/public/{PromisePathsAgent.Check}/nothing-here.txt");
        var (missing, _) = await GetRawAsync($"/public/{PromisePathsAgent.Check}/report/missing.txt");

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("unknown check", unknownBody, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, notListed.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        foreach (var r in new[] { unknown, notListed, missing })
        {
            r.Dispose();
        }
    }

    [Fact]
    public async Task Private_paths_need_credentials()
    {
        var (anonymous, anonymousBody) = await GetRawAsync($"/private/{PromisePathsAgent.Check}/private-data/private.txt");
        var (wrong, _) = await GetRawAsync($"/private/{PromisePathsAgent.Check}/private-data/private.txt", token: "not-the-token");
        var (right, rightBody) = await GetRawAsync($"/private/{PromisePathsAgent.Check}/private-data/private.txt", token: agent.Token);
        var (publicAsPrivate, _) = await GetRawAsync($"/private/{PromisePathsAgent.Check}/report/index.txt", token: agent.Token);
        var (unknown, _) = await GetRawAsync("/private/no-such-check/private-data/private.txt", token: agent.Token);
        var (escape, escapeBody) = await GetRawAsync($"/private/{PromisePathsAgent.Check}/private-data/%2e%2e/%2e%2e/secret.txt", token: agent.Token);
        var (whoami, _) = await GetRawAsync("/private/whoami", token: agent.Token);

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.DoesNotContain("operators", anonymousBody, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        Assert.Equal("for operators only\n", rightBody);
        Assert.Equal(HttpStatusCode.NotFound, publicAsPrivate.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.True(escape.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound, $"{(int)escape.StatusCode}");
        Assert.DoesNotContain("TOP SECRET", escapeBody, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, whoami.StatusCode);
        foreach (var r in new[] { anonymous, wrong, right, publicAsPrivate, unknown, escape, whoami })
        {
            r.Dispose();
        }
    }
}
