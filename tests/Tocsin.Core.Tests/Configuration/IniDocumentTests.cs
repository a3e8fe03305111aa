using Tocsin.Configuration;

namespace Tocsin.Core.Tests.Configuration;

public sealed class IniDocumentTests
{
    [Fact]
    public void Reads_the_seed_003_service_cfg_with_json_dumped_values()
    {
        // What seed 003's service.cfg template renders: {{ key }} = {{ dumps(value) }}.
        var ini = IniDocument.Parse("""
            [service]
            title = "Kvm log parse \u00e9"
            frequency = "*/5 * * * *"
            public-path-list = "/srv/a/var/log/kvm.log"
            private-path-list = "/srv/a/var/log\n/srv/a/interface"
            """);

        var service = ini.Section("service")!;
        Assert.Equal("Kvm log parse é", service["title"]);
        Assert.Equal("*/5 * * * *", service["frequency"]);
        Assert.Equal("/srv/a/var/log/kvm.log", service["public-path-list"]);
        Assert.Equal("/srv/a/var/log\n/srv/a/interface", service["private-path-list"]);
    }

    [Fact]
    public void Reads_plain_values_colons_comments_continuations_and_lower_cases_keys()
    {
        var ini = IniDocument.Parse("# a comment\r\n; another\r\n\r\n[service]\r\nTitle: Disk # not a comment\r\nprivate-path-list =\r\n  /var/log\r\n  /srv/x\r\n[other]\r\nk=v\r\n");

        Assert.Equal(["service", "other"], ini.SectionNames);
        var service = ini.Section("service")!;
        Assert.Equal("Disk # not a comment", service["title"]);
        Assert.Equal("/var/log\n/srv/x", service["private-path-list"]);
        Assert.Equal("v", ini.Section("other")!["k"]);
        Assert.Null(ini.Section("missing"));
    }

    [Theory]
    [InlineData("title = x", "line 1: key \"title\" comes before any [section] header")]
    [InlineData("[service]\ntitle = a\ntitle = b", "line 3: key \"title\" appears twice")]
    [InlineData("[service]\n[service]", "line 2: section [service] appears twice")]
    [InlineData("[service]\njust words", "line 2: \"just words\" is neither")]
    [InlineData("[service\ntitle = a", "line 1: section header \"[service\" has no closing ']'")]
    [InlineData("[]", "line 1: empty section name")]
    [InlineData("[service]\n = a", "line 2: \"= a\" has an empty key")]
    [InlineData("[service]\ntitle = \"unterminated", "key \"title\": ")]
    public void Refuses_what_it_cannot_read_naming_the_line(string text, string expected)
    {
        var ex = Assert.Throws<FormatException>(() => IniDocument.Parse(text));
        Assert.StartsWith(expected, ex.Message, StringComparison.Ordinal);
    }
}
