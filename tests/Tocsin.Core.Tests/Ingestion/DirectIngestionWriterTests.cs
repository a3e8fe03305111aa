using Tocsin.Ingestion;

namespace Tocsin.Core.Tests.Ingestion;

public sealed class DirectIngestionWriterTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Stored_rows_pair_each_row_with_its_id_in_order_and_count_without_building_them()
    {
        var batch = new IngestionBatch("wd-1", [new("dns", "resolved", 20, T0), new("dhcp", "lease", 10, T0.AddSeconds(1))]);

        var stored = DirectIngestionWriter.Stored(batch, [41, 42]);

        Assert.Equal(2, stored.Count);
        Assert.Equal(new StoredRow(42, "wd-1", "dhcp", "lease", 10, T0.AddSeconds(1)), stored[1]);
        Assert.Equal(
            [new StoredRow(41, "wd-1", "dns", "resolved", 20, T0), new StoredRow(42, "wd-1", "dhcp", "lease", 10, T0.AddSeconds(1))],
            stored);
        Assert.Throws<ArgumentOutOfRangeException>(() => stored[2]);
    }

    [Fact]
    public void Stored_rows_refuse_ids_that_do_not_match_the_rows()
    {
        var batch = new IngestionBatch("wd-1", [new("dns", "resolved", 20, T0)]);

        var ex = Assert.Throws<ArgumentException>(() => DirectIngestionWriter.Stored(batch, [1, 2]));
        Assert.Contains("2 id(s) for 1 row(s)", ex.Message, StringComparison.Ordinal);
    }
}
