using System.Globalization;
using Tocsin.Checks;
using Tocsin.Checks.Http;
using Tocsin.Core.Tests.TestServers;

namespace Tocsin.Core.Tests.Checks;

public sealed class HttpCheckTests(KestrelTarget http, HttpsKestrelTarget https)
    : IClassFixture<KestrelTarget>, IClassFixture<HttpsKestrelTarget>
{
    private static CheckDefinition Check(Uri url, string more = "") =>
        CheckHarness.Parse($$"""{ "name": "target", "kind": "http", "url": "{{url}}" {{(more.Length > 0 ? "," + more : "")}} }""");

    private static double Number(CheckResult result, string detail)
    {
        Assert.NotNull(result.Details);
        Assert.True(result.Details.ContainsKey(detail), $"details lack {detail}: {result.Details.ToJsonString()}");
        // Details hold longs (byte counts) and doubles (ms); read both as the JSON number they are.
        return double.Parse(result.Details[detail]!.ToJsonString(), CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Http_check_is_ok_with_phase_timings_when_status_and_body_match()
    {
        var result = await CheckHarness.RunAsync(Check(http.Url("/ok"), """ "expect": { "bodyRegex": "Example b.dy" } """));

        Assert.Equal(CheckState.OK, result.State);
        Assert.Equal(200, result.StatusCode);
        Assert.StartsWith("status 200 in ", result.Message, StringComparison.Ordinal);
        Assert.Equal("target", result.CheckName);
        Assert.Equal("http", result.Kind);
        Assert.Equal(KestrelTarget.OkBody.Length, Number(result, "bodyBytes"));
        Assert.True(result.Details!["regexMatched"]!.GetValue<bool>());
        Assert.True(Number(result, "connectMs") >= 0);
        double ttfb = Number(result, "ttfbMs"), total = Number(result, "totalMs");
        Assert.True(ttfb >= 0 && total >= ttfb, $"ttfbMs {ttfb}, totalMs {total}");
        Assert.Equal("127.0.0.1", result.Details["remoteAddress"]!.GetValue<string>());
        Assert.False(result.Details.ContainsKey("tlsMs"));
        Assert.False(result.Details.ContainsKey("finalUrl"));
        Assert.True(result.FinishedAt >= result.StartedAt);
    }

    [Fact]
    public async Task Http_check_is_critical_when_status_is_500()
    {
        var result = await CheckHarness.RunAsync(Check(http.Url("/500")));

        Assert.Equal(CheckState.CRITICAL, result.State);
        Assert.Equal(500, result.StatusCode);
        Assert.Equal("status 500, expected 200–399", result.Message);
    }

    [Fact]
    public async Task Http_check_names_the_configured_status_list_when_status_is_not_in_it()
    {
        var result = await CheckHarness.RunAsync(Check(http.Url("/500"), """ "expect": { "status": [200, 204] } """));

        Assert.Equal(CheckState.CRITICAL, result.State);
        Assert.Equal("status 500, expected 200, 204", result.Message);
    }

    [Fact]
    public async Task Http_check_is_critical_when_body_does_not_match()
    {
        var result = await CheckHarness.RunAsync(Check(http.Url("/ok"), """ "expect": { "bodyRegex": "^Nothing" } """));

        Assert.Equal(CheckState.CRITICAL, result.State);
        Assert.Equal(200, result.StatusCode);
        Assert.Equal("body does not match /^Nothing/", result.Message);
        Assert.False(result.Details!["regexMatched"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Http_check_is_critical_when_the_answer_comes_after_the_timeout()
    {
        // The target answers after 3 s; the check gives up after 500 ms.
        var result = await CheckHarness.RunAsync(Check(http.Url("/slow?ms=3000"), """ "timeout": "500ms" """));

        Assert.Equal(CheckState.CRITICAL, result.State);
        Assert.Contains("timed out", result.Message, StringComparison.Ordinal);
        Assert.Null(result.StatusCode);
    }

    [Fact]
    public async Task Http_check_is_critical_naming_connection_refused_when_nothing_listens()
    {
        int port = KestrelTarget.ClosedPort();

        var result = await CheckHarness.RunAsync(Check(new Uri($"http://127.0.0.1:{port}/ok")));

        Assert.Equal(CheckState.CRITICAL, result.State);
        Assert.Contains("ConnectionRefused", result.Message, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{port}", result.Message, StringComparison.Ordinal);
        Assert.Null(result.StatusCode);
    }

    [Fact]
    public async Task Https_check_is_critical_naming_the_certificate_when_it_is_self_signed()
    {
        var result = await CheckHarness.RunAsync(Check(https.Url("/ok")));

        Assert.Equal(CheckState.CRITICAL, result.State);
        Assert.Contains("certificate", result.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("tls.skipVerify", result.Message, StringComparison.Ordinal);
        Assert.InRange(Number(result, "tlsDaysToExpiry"), HttpsKestrelTarget.CertificateDays - 1, HttpsKestrelTarget.CertificateDays);
        Assert.Contains("RemoteCertificateChainErrors", result.Details!["tlsErrors"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Https_check_with_skip_verify_is_ok_and_reports_days_to_expiry_and_tls_time()
    {
        var result = await CheckHarness.RunAsync(Check(https.Url("/ok"), """ "tls": { "skipVerify": true } """));

        Assert.Equal(CheckState.OK, result.State);
        Assert.Equal(200, result.StatusCode);
        Assert.InRange(Number(result, "tlsDaysToExpiry"), HttpsKestrelTarget.CertificateDays - 0.1, HttpsKestrelTarget.CertificateDays);
        Assert.True(Number(result, "tlsMs") >= 0);
    }

    [Fact]
    public async Task Https_check_warns_when_the_certificate_expires_sooner_than_min_days_to_expiry()
    {
        var result = await CheckHarness.RunAsync(Check(https.Url("/ok"), """ "tls": { "skipVerify": true, "minDaysToExpiry": 60 } """));

        Assert.Equal(CheckState.WARNING, result.State);
        Assert.Equal(200, result.StatusCode);
        Assert.Contains("fewer than tls.minDaysToExpiry 60", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Http_check_follows_a_redirect_and_reports_the_final_url()
    {
        var result = await CheckHarness.RunAsync(Check(http.Url("/redirect"), """ "expect": { "status": 200, "bodyRegex": "Example" } """));

        Assert.Equal(CheckState.OK, result.State);
        Assert.Equal(200, result.StatusCode);
        Assert.Equal(http.Url("/ok").ToString(), result.Details!["finalUrl"]!.GetValue<string>());
    }

    [Fact]
    public async Task Http_check_accepts_an_unfollowed_302_by_default()
    {
        var result = await CheckHarness.RunAsync(Check(http.Url("/redirect"), """ "followRedirects": false """));

        Assert.Equal(CheckState.OK, result.State);
        Assert.Equal(302, result.StatusCode);
        Assert.False(result.Details!.ContainsKey("finalUrl"));
    }

    [Fact]
    public async Task Http_check_is_critical_on_an_unfollowed_302_when_only_200_is_expected()
    {
        var result = await CheckHarness.RunAsync(Check(http.Url("/redirect"), """ "followRedirects": false, "expect": { "status": [200] } """));

        Assert.Equal(CheckState.CRITICAL, result.State);
        Assert.Equal(302, result.StatusCode);
        Assert.Equal("status 302, expected 200", result.Message);
    }

    [Fact]
    public async Task Http_head_check_is_ok_with_no_body_bytes()
    {
        var result = await CheckHarness.RunAsync(Check(http.Url("/ok"), """ "method": "head" """));

        Assert.Equal(CheckState.OK, result.State);
        Assert.Equal(200, result.StatusCode);
        Assert.Equal(0, Number(result, "bodyBytes"));
    }

    [Fact]
    public async Task Http_check_warns_when_slower_than_expect_max_duration()
    {
        // The target takes at least 300 ms; the check expects 50 ms and allows 10 s.
        var result = await CheckHarness.RunAsync(Check(http.Url("/slow?ms=300"), """ "timeout": "10s", "expect": { "maxDuration": "50ms" } """));

        Assert.Equal(CheckState.WARNING, result.State);
        Assert.Equal(200, result.StatusCode);
        Assert.Contains("more than expect.maxDuration 50ms", result.Message, StringComparison.Ordinal);
        Assert.True(Number(result, "totalMs") > 50, "the run must be slower than expect.maxDuration"); // Task.Delay(300) on the server may end a little early by the client's clock
    }

    [Fact]
    public async Task Check_whose_runner_throws_is_unknown_with_the_reason_and_the_executor_does_not_throw()
    {
        var check = new CheckDefinition("wrong-options", HttpCheckKind.KindName, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(5), "not http options");

        var result = await CheckHarness.RunAsync(check);

        Assert.Equal(CheckState.UNKNOWN, result.State);
        Assert.StartsWith("check failed to run: InvalidCastException", result.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(HttpCheckOptions), result.Message, StringComparison.Ordinal);
        Assert.Equal("wrong-options", result.CheckName);
    }

    [Fact]
    public async Task Check_of_an_unregistered_kind_is_unknown_naming_the_kind()
    {
        var check = new CheckDefinition("no-such-kind", "gopher", TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(5), new object());

        var result = await CheckHarness.RunAsync(check);

        Assert.Equal(CheckState.UNKNOWN, result.State);
        Assert.Contains("gopher", result.Message, StringComparison.Ordinal);
    }
}
