using System.Diagnostics.Metrics;

namespace Tocsin.Core.Tests;

/// <summary>An <see cref="IMeterFactory"/> whose meters are scoped to it, so a test's MetricCollector sees only that test's instruments.</summary>
public sealed class TestMeterFactory : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options.Name, options.Version, options.Tags, scope: this);
        lock (_meters)
        {
            _meters.Add(meter);
        }

        return meter;
    }

    public void Dispose()
    {
        lock (_meters)
        {
            foreach (var m in _meters)
            {
                m.Dispose();
            }

            _meters.Clear();
        }
    }
}
