using System.Diagnostics.Metrics;
using Tocsin.Diagnostics;
using Tocsin.Web;

namespace Tocsin.IntegrationTests;

/// <summary>How the engine's instruments are named in /metrics, including those only an exporter registers.</summary>
public sealed class PrometheusNameTests
{
    [Fact]
    public void Units_become_base_unit_suffixes_and_counters_end_in_total()
    {
        using var meter = new Meter("prometheus-name-test");
        Assert.Equal(("tocsin_check_runs_total", 1.0), PrometheusMetrics.PrometheusName(meter.CreateCounter<long>("tocsin.check.runs", "{run}")));
        Assert.Equal(("tocsin_check_duration_seconds", 0.001), PrometheusMetrics.PrometheusName(meter.CreateHistogram<double>("tocsin.check.duration", "ms")));
        Assert.Equal(("tocsin_export_lag_seconds", 1.0), PrometheusMetrics.PrometheusName(meter.CreateObservableGauge("tocsin.export.lag", () => 0.0, "s")));
        Assert.Equal(("tocsin_outbox_size_bytes", 1.0), PrometheusMetrics.PrometheusName(meter.CreateObservableGauge("tocsin.outbox.size", () => 0L, "By")));
        Assert.Equal(("tocsin_outbox_pending", 1.0), PrometheusMetrics.PrometheusName(meter.CreateObservableGauge("tocsin.outbox.pending", () => 0L, "{result}")));
        Assert.Equal(("tocsin_results_write_failures_total", 1.0), PrometheusMetrics.PrometheusName(meter.CreateCounter<long>("tocsin.results.write_failures", "{batch}")));
        Assert.Equal("Tocsin", TocsinMetrics.MeterName);
    }
}
