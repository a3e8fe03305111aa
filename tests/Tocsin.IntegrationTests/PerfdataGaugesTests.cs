using System.Text.Json.Nodes;
using Prometheus;
using Tocsin.Checks;
using Tocsin.Checks.Command;
using Tocsin.Web;

namespace Tocsin.IntegrationTests;

/// <summary><see cref="PerfdataGauges"/> on a registry of its own, fed with results made by the real <see cref="CommandContract"/>.</summary>
public sealed class PerfdataGaugesTests
{
    private readonly CollectorRegistry _registry = Metrics.NewCustomRegistry();
    private readonly PerfdataGauges _gauges;
    private readonly DateTimeOffset _t0 = DateTimeOffset.UtcNow;

    public PerfdataGaugesTests() => _gauges = new PerfdataGauges(Metrics.WithCustomRegistry(_registry));

    [Theory]
    [InlineData(null, "", 1)]
    [InlineData("s", "seconds", 1)]
    [InlineData("ms", "seconds", 0.001)]
    [InlineData("us", "seconds", 0.000001)]
    [InlineData("B", "bytes", 1)]
    [InlineData("KB", "bytes", 1024)]
    [InlineData("MB", "bytes", 1048576)]
    [InlineData("GB", "bytes", 1073741824)]
    [InlineData("TB", "bytes", 1099511627776)]
    [InlineData("%", "percent", 1)]
    [InlineData("c", "counter", 1)]
    [InlineData("GiB", "GiB", 1)]
    public void Units_become_base_units_in_the_unit_label(string? uom, string unit, double scale) =>
        Assert.Equal((unit, scale), PerfdataGauges.Unit(uom));

    [Fact]
    public async Task Items_of_nagios_output_become_series_and_labels_no_longer_printed_are_removed()
    {
        _gauges.Observe([Result("disk", 0, "DISK OK | '/ free'=10.5GB;;;0 'in''quote'=3 used=40% U_value=U")]);
        var scrape = await ScrapeAsync();
        Assert.Equal(10.5 * 1073741824, scrape.Value("tocsin_perfdata", ("check", "disk"), ("label", "/ free"), ("unit", "bytes")));
        Assert.Equal(3, scrape.Value("tocsin_perfdata", ("check", "disk"), ("label", "in'quote"), ("unit", "")));
        Assert.Equal(40, scrape.Value("tocsin_perfdata", ("check", "disk"), ("label", "used"), ("unit", "percent")));
        Assert.Equal(3, Series(scrape).Count);

        _gauges.Observe([Result("disk", 2, "DISK OK | used=41%")]);
        scrape = await ScrapeAsync();
        Assert.Equal(41, Assert.Single(Series(scrape)).Value);

        // An older result (a batch out of order) changes nothing; a result without perfdata removes the check's series.
        _gauges.Observe([Result("disk", 1, "DISK OK | used=99% other=1")]);
        Assert.Equal(41, Assert.Single(Series(await ScrapeAsync())).Value);
        _gauges.Observe([Result("disk", 3, "timed out")]);
        Assert.Empty(Series(await ScrapeAsync()));
        Assert.Equal(0, _gauges.SeriesCount("disk"));
    }

    [Fact]
    public async Task At_most_50_labels_per_check_are_kept_and_labels_are_sanitized_and_cut()
    {
        string items = string.Join(' ', Enumerable.Range(0, 80).Select(i => $"l{i}={i}"));
        string longLabel = new('x', 300);
        _gauges.Observe([Result("many", 0, "OK | " + items), Result("odd", 0, $"OK | '{longLabel}'=1")]);
        var odd = Result("odd2", 0, "OK");
        odd.Details!["perfdata"] = new JsonArray(new JsonObject { ["label"] = "tab\there", ["value"] = 2.0, ["unit"] = "B\u0001" });
        _gauges.Observe([odd]);

        var scrape = await ScrapeAsync();
        Assert.Equal(50, Series(scrape).Count(s => s.Labels["check"] == "many"));
        Assert.Equal(49, scrape.Value("tocsin_perfdata", ("check", "many"), ("label", "l49"), ("unit", "")));
        Assert.Equal(PerfdataGauges.MaxLabelLength, Assert.Single(Series(scrape), s => s.Labels["check"] == "odd").Labels["label"].Length);
        Assert.Equal(2, scrape.Value("tocsin_perfdata", ("check", "odd2"), ("label", "tab_here"), ("unit", "B")));
    }

    private CheckResult Result(string check, int second, string stdout)
    {
        var outcome = CommandContract.Evaluate(0, stdout + "\n", "");
        var at = _t0.AddSeconds(second);
        return new CheckResult(Guid.CreateVersion7(at), check, "command", outcome.State, at, at, at, 1, null, outcome.Message, outcome.Details);
    }

    private static List<(string Name, Dictionary<string, string> Labels, double Value)> Series(PrometheusText scrape) =>
        [.. scrape.Samples.Where(s => s.Name == "tocsin_perfdata")];

    private async Task<PrometheusText> ScrapeAsync()
    {
        using var stream = new MemoryStream();
        await _registry.CollectAndExportAsTextAsync(stream, TestContext.Current.CancellationToken);
        return PrometheusText.Parse(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }
}
