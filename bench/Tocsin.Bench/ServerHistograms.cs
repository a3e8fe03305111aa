using System.Globalization;

namespace Tocsin.Bench;

/// <summary>
/// The <c>kind="logs"</c> series of a server's Prometheus histograms from one scrape of its /metrics (text format 0.0.4):
/// cumulative bucket counts by upper bound, sum and count per family; two scrapes give the window between them.
/// </summary>
internal sealed class ServerHistograms
{
    private readonly Dictionary<string, Window> _families = new(StringComparer.Ordinal);

    public static async Task<ServerHistograms> ScrapeAsync(HttpClient client, Uri metrics)
    {
        string text = await client.GetStringAsync(metrics).ConfigureAwait(false);
        var result = new ServerHistograms();
        foreach (string line in text.Split('\n'))
        {
            if (line.StartsWith('#') || !line.Contains("kind=\"logs\"", StringComparison.Ordinal))
            {
                continue;
            }

            int brace = line.IndexOf('{', StringComparison.Ordinal);
            int space = line.LastIndexOf(' ');
            if (brace < 0 || space < 0 || !double.TryParse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
            {
                continue;
            }

            string name = line[..brace];
            foreach (var (suffix, apply) in new (string, Action<Window>)[]
            {
                ("_bucket", w => w.Buckets[Le(line)] = value),
                ("_sum", w => w.Sum = value),
                ("_count", w => w.Count = value),
            })
            {
                if (name.EndsWith(suffix, StringComparison.Ordinal))
                {
                    string family = name[..^suffix.Length];
                    if (!result._families.TryGetValue(family, out var window))
                    {
                        result._families[family] = window = new Window();
                    }

                    apply(window);
                }
            }
        }

        return result;
    }

    /// <summary>What <paramref name="family"/> recorded between <paramref name="before"/> and this scrape.</summary>
    public Window Since(ServerHistograms before, string family)
    {
        var now = _families.GetValueOrDefault(family) ?? new Window();
        var then = before._families.GetValueOrDefault(family) ?? new Window();
        var d = new Window { Sum = now.Sum - then.Sum, Count = now.Count - then.Count };
        foreach (var (le, count) in now.Buckets)
        {
            d.Buckets[le] = count - then.Buckets.GetValueOrDefault(le);
        }

        return d;
    }

    private static double Le(string line)
    {
        int at = line.IndexOf("le=\"", StringComparison.Ordinal) + 4;
        string le = line[at..line.IndexOf('"', at)];
        return le == "+Inf" ? double.PositiveInfinity : double.Parse(le, CultureInfo.InvariantCulture);
    }

    /// <summary>One histogram's cumulative buckets (upper bound → count), sum and count.</summary>
    internal sealed class Window
    {
        public SortedDictionary<double, double> Buckets { get; } = [];

        public double Sum { get; set; }

        public double Count { get; set; }

        public double Mean => Count > 0 ? Sum / Count : double.NaN;

        /// <summary>The smallest bucket bound with at least <paramref name="quantile"/> of the observations under it.</summary>
        public double UpperBound(double quantile)
        {
            foreach (var (le, count) in Buckets)
            {
                if (Count > 0 && count >= quantile * Count)
                {
                    return le;
                }
            }

            return double.NaN;
        }
    }
}
