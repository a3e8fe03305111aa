using System.Text.Json;
using Tocsin.Configuration;
using Tocsin.Discovery;

namespace Tocsin.Core.Tests.Discovery;

/// <summary>Reading the Kubernetes fields of a check's <c>discovery</c> object, and the label selector syntax check.</summary>
public sealed class KubernetesDiscoveryOptionsTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    /// <summary>Reads <paramref name="json"/> as the caller will: <c>type</c>, then <see cref="KubernetesDiscoveryOptions.Read"/>,
    /// then <see cref="ConfigObjectReader.RejectUnknownFields"/>.</summary>
    private (KubernetesDiscoveryOptions? Options, List<string> Errors) Read(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var errors = new List<ConfigError>();
        var reader = new ConfigObjectReader(doc.RootElement, _folder.File("tocsin.json"), "checks[0] \"apps\"", errors, "discovery.");
        Assert.Equal("kubernetes", reader.String("type", required: true));
        var options = KubernetesDiscoveryOptions.Read(reader);
        reader.RejectUnknownFields();
        return (options, [.. errors.Select(e => e.ToString())]);
    }

    [Fact]
    public void Without_fields_the_seed_000_rule_applies_pods_named_rocketchat_in_the_default_namespace()
    {
        var (o, errors) = Read("""{ "type": "kubernetes" }""");
        Assert.Empty(errors);
        Assert.NotNull(o);
        Assert.Equal("rocketchat-", o.NamePrefix);
        Assert.Null(o.Namespace);
        Assert.Null(o.LabelSelector);
        Assert.Null(o.Port);
        Assert.Null(o.PortName);
        Assert.Null(o.Kubeconfig);
        Assert.Equal("pods named rocketchat-* in namespace (default)", o.Describe());
    }

    [Fact]
    public void Every_field_is_read_and_a_relative_kubeconfig_is_relative_to_the_configuration_file()
    {
        File.WriteAllText(_folder.File("kubeconfig"), "apiVersion: v1\nkind: Config\n");
        var (o, errors) = Read("""
            { "type": "kubernetes", "namespace": "chat", "labelSelector": " app.kubernetes.io/name=rocketchat, tier in (web, api),!canary ",
              "namePrefix": "rocketchat-web-", "port": 3000, "kubeconfig": "kubeconfig", "context": "prod" }
            """);
        Assert.Empty(errors);
        Assert.NotNull(o);
        Assert.Equal("chat", o.Namespace);
        Assert.Equal("app.kubernetes.io/name=rocketchat, tier in (web, api),!canary", o.LabelSelector);
        Assert.Equal("rocketchat-web-", o.NamePrefix);
        Assert.Equal(3000, o.Port);
        Assert.Equal(_folder.File("kubeconfig"), o.Kubeconfig);
        Assert.Equal("prod", o.Context);
    }

    [Fact]
    public void A_label_selector_turns_the_default_name_prefix_off_and_an_empty_prefix_keeps_every_pod()
    {
        Assert.Null(Read("""{ "type": "kubernetes", "labelSelector": "app=rocketchat" }""").Options!.NamePrefix);
        Assert.Null(Read("""{ "type": "kubernetes", "namePrefix": "" }""").Options!.NamePrefix);
        var o = Read("""{ "type": "kubernetes", "port": "http" }""").Options!;
        Assert.Equal("http", o.PortName);
        Assert.Null(o.Port);
    }

    [Theory]
    [InlineData("""  "namespace": "Chat_1" """, "field \"discovery.namespace\" = \"Chat_1\": must be a DNS-1123 label")]
    [InlineData("""  "namespace": 3 """, "field \"discovery.namespace\" = 3: must be a string")]
    [InlineData("""  "labelSelector": "app in ()" """, "empty set of values")]
    [InlineData("""  "labelSelector": "app in (web" """, "unbalanced parentheses")]
    [InlineData("""  "labelSelector": "app rocketchat" """, "requirement \"app rocketchat\" is not one of key=value")]
    [InlineData("""  "labelSelector": "app=rocket chat" """, "is not one of key=value")]
    [InlineData("""  "labelSelector": "-app=x" """, "has a key \"-app\"")]
    [InlineData("""  "labelSelector": "Bad_Prefix/app=x" """, "key prefix \"Bad_Prefix\"")]
    [InlineData("""  "labelSelector": "app=-x" """, "has a value \"-x\"")]
    [InlineData("""  "labelSelector": "app=x,,tier=web" """, "is empty (two commas in a row")]
    [InlineData("""  "labelSelector": "  " """, "field \"discovery.labelSelector\" = \"  \": is empty")]
    [InlineData("""  "namePrefix": "RocketChat" """, "must be the beginning of a pod name")]
    [InlineData("""  "port": 0 """, "field \"discovery.port\" = 0: must be from 1 to 65535")]
    [InlineData("""  "port": 70000 """, "must be from 1 to 65535")]
    [InlineData("""  "port": "HTTP" """, "or the name of a container port")]
    [InlineData("""  "port": true """, "field \"discovery.port\" = true: must be a container port number")]
    [InlineData("""  "kubeconfig": "no-such-kubeconfig" """, "field \"discovery.kubeconfig\" = \"no-such-kubeconfig\": file not found")]
    [InlineData("""  "context": "" """, "field \"discovery.context\" = \"\": must name a context")]
    [InlineData("""  "selector": "app=rocketchat" """, "field \"discovery.selector\" = \"app=rocketchat\": unknown field; allowed: context, kubeconfig, labelSelector, namePrefix, namespace, port, type")]
    public void A_bad_field_is_named_with_its_value_and_what_is_allowed(string fields, string expected)
    {
        var (o, errors) = Read($$"""{ "type": "kubernetes", {{fields}} }""");
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
        // Read gives no options when one of its own fields is wrong; an unknown field is the caller's to reject.
        Assert.True(o is null || expected.Contains("unknown field", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("app=rocketchat")]
    [InlineData("app==rocketchat")]
    [InlineData("app!=rocketchat")]
    [InlineData("app=")]
    [InlineData("app")]
    [InlineData("!app")]
    [InlineData("! app")]
    [InlineData("app in (a,b)")]
    [InlineData("app notin ( a , b )")]
    [InlineData("app.kubernetes.io/name=rocketchat,app.kubernetes.io/component in (server),!canary")]
    [InlineData("environment in (production, qa), tier notin (frontend, backend), partition")]
    public void Valid_label_selectors_pass_the_syntax_check(string selector) => Assert.Null(KubernetesNames.ValidateSelector(selector));
}
