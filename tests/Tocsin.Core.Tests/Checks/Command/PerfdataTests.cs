using Tocsin.Checks.Command;

namespace Tocsin.Core.Tests.Checks.Command;

public sealed class PerfdataTests
{
    [Fact]
    public void Full_item_with_quoted_label_unit_thresholds_min_and_max()
    {
        var p = Perfdata.Parse("'/ free'=3326MB;4000;2000;0;36000");

        var item = Assert.Single(p.Items);
        Assert.Equal(new PerfdataItem("/ free", 3326, "MB", "4000", "2000", 0, 36000), item);
        Assert.Empty(p.Invalid);
    }

    [Fact]
    public void Doubled_quote_in_a_quoted_label_is_one_quote_and_equals_signs_may_be_quoted()
    {
        var p = Perfdata.Parse("'it''s'=1 'a=b'=2");

        Assert.Equal(["it's", "a=b"], p.Items.Select(i => i.Label));
    }

    [Fact]
    public void Empty_and_missing_trailing_fields_are_null()
    {
        var p = Perfdata.Parse("a=1 b=2;;;; c=3;;5 d=4%;;;0;");

        Assert.Equal(new PerfdataItem("a", 1, null, null, null, null, null), p.Items[0]);
        Assert.Equal(new PerfdataItem("b", 2, null, null, null, null, null), p.Items[1]);
        Assert.Equal(new PerfdataItem("c", 3, null, null, "5", null, null), p.Items[2]);
        Assert.Equal(new PerfdataItem("d", 4, "%", null, null, 0, null), p.Items[3]);
    }

    [Fact]
    public void Units_negative_and_fractional_values_and_undetermined()
    {
        var p = Perfdata.Parse("time=0.012s rtt=-1.5ms io=12c bytes=1e3B load=U free=5GiB");

        Assert.Equal([0.012, -1.5, 12, 1000, null, 5], p.Items.Select(i => i.Value));
        Assert.Equal(["s", "ms", "c", "B", null, "GiB"], p.Items.Select(i => i.Unit));
    }

    [Fact]
    public void Threshold_ranges_are_kept_as_written()
    {
        var p = Perfdata.Parse("x=5;10:;~:20 y=5;@10:20;0:30");

        Assert.Equal(("10:", "~:20"), (p.Items[0].Warn, p.Items[0].Crit));
        Assert.Equal(("@10:20", "0:30"), (p.Items[1].Warn, p.Items[1].Crit));
    }

    [Fact]
    public void Items_across_lines_and_tabs_all_parse()
    {
        var p = Perfdata.Parse("a=1\nb=2\t c=3\r\n");

        Assert.Equal(["a", "b", "c"], p.Items.Select(i => i.Label));
    }

    [Theory]
    [InlineData("noequals")]
    [InlineData("x=abc")]
    [InlineData("x=")]
    [InlineData("=5")]
    [InlineData("'unterminated=5")]
    [InlineData("x=1;2;3;4;5;6")]
    [InlineData("x=1;a;b")]
    [InlineData("x=1;;;zero")]
    [InlineData("x=1,5")]
    public void Malformed_items_are_reported_not_thrown(string text)
    {
        var p = Perfdata.Parse(text);

        Assert.Empty(p.Items);
        Assert.Equal([text], p.Invalid);
    }

    [Fact]
    public void A_bad_item_does_not_spoil_its_neighbours()
    {
        var p = Perfdata.Parse("a=1 junk b=2");

        Assert.Equal(["a", "b"], p.Items.Select(i => i.Label));
        Assert.Equal(["junk"], p.Invalid);
    }

    [Fact]
    public void Json_shape_has_every_field()
    {
        var json = new PerfdataItem("t", 1.5, "s", "2", null, 0, null).ToJson().ToJsonString();

        Assert.Equal("""{"label":"t","value":1.5,"unit":"s","warn":"2","crit":null,"min":0,"max":null}""", json);
    }
}
