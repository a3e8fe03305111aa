using System.Collections.Frozen;
using System.Diagnostics.Metrics;
using System.Globalization;
using Prometheus;
using Tocsin.Checks;
using Tocsin.Diagnostics;
using Tocsin.Storage;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Web;

/// <summary>
/// Publishes the engine's <c>Tocsin</c> meter (System.Diagnostics.Metrics) and each check's latest state in
/// Prometheus' text format, through prometheus-net collectors on a registry of its own (<see cref="Registry"/>).
/// <para><b>Names</b> follow Prometheus conventions: the instrument name with <c>.</c> → <c>_</c>; values in
/// <c>ms</c> are converted to seconds and named <c>_seconds</c>, <c>s</c> → <c>_seconds</c>, <c>By</c> →
/// <c>_bytes</c>; counters end in <c>_total</c>. E.g. <c>tocsin.check.runs</c> → <c>tocsin_check_runs_total{kind,state}</c>,
/// <c>tocsin.check.duration</c> (ms) → histogram <c>tocsin_check_duration_seconds{kind}</c>,
/// <c>tocsin.outbox.size</c> (By) → gauge <c>tocsin_outbox_size_bytes</c>. Histograms of durations use <see cref="SecondsBuckets"/>, of counts <see cref="CountBuckets"/>.
/// Instrument tags become labels; the label names of each instrument are listed in <see cref="LabelNames"/>
/// (an instrument not listed has none, and tags not listed are left out).</para>
/// <para><b>Check state</b>: gauge <c>tocsin_check_state{check,kind}</c> = 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
/// of each check's (the <see cref="CheckCatalog"/>'s) latest result in this agent's outbox (table <c>check_states</c>), and
/// <c>tocsin_check_last_run_timestamp_seconds{check,kind}</c> (Unix time of that result's start, so a stale state
/// — e.g. a check now run by another agent of a fleet — shows). A check without a result yet has no series. The
/// table is read at most once per <see cref="StateRefreshInterval"/>, whatever the scrape rate.</para>
/// <para><b>Performance data</b>: gauge <c>tocsin_perfdata{check,label,unit}</c>, see <see cref="PerfdataGauges"/>.</para>
/// <para><b>Process metrics</b>: prometheus-net's <c>process_*</c> and <c>dotnet_*</c> collectors
/// (<see cref="DotNetStats"/>) are included; its automatic .NET meter and event-counter adapters are not (this
/// registry is not the default one), so nothing is published twice and ASP.NET Core's own meters stay out.</para>
/// </summary>
public sealed class PrometheusMetrics : IDisposable
{
    /// <summary>Bucket upper bounds in seconds of every histogram: 1 ms to 60 s.</summary>
    public static readonly double[] SecondsBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    /// <summary>Bucket upper bounds of histograms that count things (unit <c>{…}</c>, e.g. rows per transaction): 1 to 50,000.</summary>
    public static readonly double[] CountBuckets = [1, 10, 100, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000];

    /// <summary>Label names per instrument of the <c>Tocsin</c> meter that carries tags.</summary>
    public static readonly FrozenDictionary<string, string[]> LabelNames = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["tocsin.check.runs"] = ["kind", "state"],
        ["tocsin.check.duration"] = ["kind"],
        ["tocsin.scheduler.skipped"] = ["reason"],
        ["tocsin.notifications.delivered"] = ["channel", "type"],
        ["tocsin.notifications.failures"] = ["channel"],
        ["tocsin.notifications.given_up"] = ["channel"],
        ["tocsin.ingest.rows"] = ["kind"],
        ["tocsin.ingest.failures"] = ["kind"],
        ["tocsin.ingest.transaction_rows"] = ["kind"],
        ["tocsin.ingest.purged"] = ["kind"],
        ["tocsin.ingest.queue_wait"] = ["kind"],
        ["tocsin.ingest.commit.duration"] = ["kind"],
        ["tocsin.ingest.ack.duration"] = ["kind"],
        ["tocsin.ingest.pushes"] = ["source"],
        ["tocsin.ingest.pushes_dropped"] = ["reason"],
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Longest time a scrape may show check states for. <value>1 s.</value></summary>
    public static readonly TimeSpan StateRefreshInterval = TimeSpan.FromSeconds(1);

    private readonly MeterListener _listener;
    private readonly MetricFactory _factory;
    private readonly CheckCatalog _catalog;
    private readonly SqliteOutbox _outbox;
    private readonly TimeProvider _time;
    private readonly Gauge _checkState;
    private readonly Gauge _checkLastRun;
    private readonly Lock _stateLock = new();
    private readonly Dictionary<string, (Gauge.Child State, Gauge.Child LastRun)> _checkSeries = new(StringComparer.Ordinal);
    private DateTimeOffset _statesReadAt = DateTimeOffset.MinValue;

    /// <summary>
    /// Starts listening to the <c>Tocsin</c> meter's instruments (those existing and those created later), and with
    /// <paramref name="writer"/>, to its committed results for <c>tocsin_perfdata</c> (<see cref="PerfdataGauges"/>).
    /// </summary>
    public PrometheusMetrics(CheckCatalog catalog, SqliteOutbox outbox, TimeProvider time, ResultWriter? writer = null)
    {
        _catalog = catalog;
        _outbox = outbox;
        _time = time;
        Registry = Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        _factory = Metrics.WithCustomRegistry(Registry);
        _checkState = _factory.CreateGauge(
            "tocsin_check_state", "State of each check's latest result in this agent's outbox: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
            new GaugeConfiguration { LabelNames = ["check", "kind"] });
        _checkLastRun = _factory.CreateGauge(
            "tocsin_check_last_run_timestamp_seconds", "Unix time at which each check's latest result in this agent's outbox started.",
            new GaugeConfiguration { LabelNames = ["check", "kind"] });
        Perfdata = new PerfdataGauges(_factory);
        writer?.OnCommitted(Perfdata.Observe);
        Registry.AddBeforeCollectCallback(BeforeCollect);

        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == TocsinMetrics.MeterName)
                {
                    listener.EnableMeasurementEvents(instrument, Publish(instrument));
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, state) => ((Series)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>((_, value, tags, state) => ((Series)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>((_, value, tags, state) => ((Series)state!).Record(value, tags));
        _listener.Start();
    }

    /// <summary>The <c>tocsin_perfdata</c> gauge, fed by the result writer's committed results.</summary>
    public PerfdataGauges Perfdata { get; }

    /// <summary>The registry <c>/metrics</c> serializes.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>
    /// The Prometheus name of an instrument (see the class remarks) and the factory its values are multiplied by
    /// (0.001 for milliseconds, else 1).
    /// </summary>
    public static (string Name, double Scale) PrometheusName(Instrument instrument)
    {
        ArgumentNullException.ThrowIfNull(instrument);
        string name = instrument.Name.Replace('.', '_').Replace('-', '_');
        (string suffix, double scale) = instrument.Unit switch
        {
            "ms" => ("_seconds", 0.001),
            "s" => ("_seconds", 1.0),
            "By" => ("_bytes", 1.0),
            _ => ("", 1.0),
        };
        if (suffix.Length > 0 && !name.EndsWith(suffix, StringComparison.Ordinal))
        {
            name += suffix;
        }

        if (instrument is Counter<long> or Counter<int> or Counter<double> or ObservableCounter<long> or ObservableCounter<int> or ObservableCounter<double>)
        {
            name += "_total";
        }

        return (name, scale);
    }

    /// <inheritdoc />
    public void Dispose() => _listener.Dispose();

    private void BeforeCollect()
    {
        _listener.RecordObservableInstruments();
        RefreshStates();
    }

    private void RefreshStates()
    {
        lock (_stateLock)
        {
            var now = _time.GetUtcNow();
            if (now - _statesReadAt < StateRefreshInterval)
            {
                return;
            }

            _statesReadAt = now;
            Dictionary<string, (Checks.CheckState State, long StartedAtUnixMs)> states;
            try
            {
                states = CheckStateCodes.Read(_outbox.Path);
            }
            catch (Microsoft.Data.Sqlite.SqliteException)
            {
                // The outbox cannot be read now (/readyz says why); the scrape shows the last states read.
                return;
            }

            var checks = _catalog.Checks;
            var names = checks.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var gone in _checkSeries.Keys.Where(n => !names.Contains(n)).ToList())
            {
                // A check removed at run time (a promise file deleted) stops being published.
                _checkSeries.Remove(gone, out var old);
                old.State.Remove();
                old.LastRun.Remove();
            }

            foreach (var check in checks)
            {
                if (states.TryGetValue(check.Name, out var s))
                {
                    if (!_checkSeries.TryGetValue(check.Name, out var series))
                    {
                        series = (_checkState.WithLabels(check.Name, check.Kind), _checkLastRun.WithLabels(check.Name, check.Kind));
                        _checkSeries[check.Name] = series;
                    }

                    series.State.Set((int)s.State);
                    series.LastRun.Set(s.StartedAtUnixMs / 1000.0);
                }
            }
        }
    }

    private Series Publish(Instrument instrument)
    {
        var (name, scale) = PrometheusName(instrument);
        string[] labels = LabelNames.GetValueOrDefault(instrument.Name) ?? [];
        string help = string.IsNullOrEmpty(instrument.Description) ? instrument.Name : instrument.Description;
        return instrument switch
        {
            Counter<long> or Counter<int> or Counter<double> => new CounterSeries(_factory.CreateCounter(name, help, labels), labels, scale),
            ObservableCounter<long> or ObservableCounter<int> or ObservableCounter<double> => new CumulativeSeries(_factory.CreateCounter(name, help, labels), labels, scale),
            Histogram<long> or Histogram<int> or Histogram<double> => new HistogramSeries(
                _factory.CreateHistogram(name, help, labels, new HistogramConfiguration { Buckets = instrument.Unit is "ms" or "s" ? SecondsBuckets : CountBuckets }), labels, scale),
            UpDownCounter<long> or UpDownCounter<int> or UpDownCounter<double> => new UpDownSeries(_factory.CreateGauge(name, help, labels), labels, scale),
            _ => new GaugeSeries(_factory.CreateGauge(name, help, labels), labels, scale),
        };
    }

    /// <summary>One instrument's Prometheus collector: turns a measurement and its tags into a labelled update.</summary>
    private abstract class Series(string[] labelNames, double scale)
    {
        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (labelNames.Length == 0)
            {
                Apply(value * scale, []);
                return;
            }

            var values = new string[labelNames.Length];
            for (int i = 0; i < labelNames.Length; i++)
            {
                values[i] = "";
                foreach (var tag in tags)
                {
                    if (tag.Key == labelNames[i])
                    {
                        values[i] = Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? "";
                        break;
                    }
                }
            }

            Apply(value * scale, values);
        }

        protected abstract void Apply(double value, string[] labelValues);
    }

    private sealed class CounterSeries(Counter counter, string[] labelNames, double scale) : Series(labelNames, scale)
    {
        protected override void Apply(double value, string[] labelValues) =>
            (labelValues.Length == 0 ? (ICounter)counter : counter.WithLabels(labelValues)).Inc(value);
    }

    private sealed class CumulativeSeries(Counter counter, string[] labelNames, double scale) : Series(labelNames, scale)
    {
        protected override void Apply(double value, string[] labelValues) =>
            (labelValues.Length == 0 ? (ICounter)counter : counter.WithLabels(labelValues)).IncTo(value);
    }

    private sealed class HistogramSeries(Histogram histogram, string[] labelNames, double scale) : Series(labelNames, scale)
    {
        protected override void Apply(double value, string[] labelValues) =>
            (labelValues.Length == 0 ? (IHistogram)histogram : histogram.WithLabels(labelValues)).Observe(value);
    }

    private sealed class UpDownSeries(Gauge gauge, string[] labelNames, double scale) : Series(labelNames, scale)
    {
        protected override void Apply(double value, string[] labelValues) =>
            (labelValues.Length == 0 ? (IGauge)gauge : gauge.WithLabels(labelValues)).Inc(value);
    }

    private sealed class GaugeSeries(Gauge gauge, string[] labelNames, double scale) : Series(labelNames, scale)
    {
        protected override void Apply(double value, string[] labelValues) =>
            (labelValues.Length == 0 ? (IGauge)gauge : gauge.WithLabels(labelValues)).Set(value);
    }
}
