using System.Text.Json;
using Tocsin.Configuration;

namespace Tocsin.Discovery;

/// <summary>
/// Where and how <see cref="KubernetesPodDiscovery"/> looks for instances: the fields of a check's
/// <c>"discovery": {"type": "kubernetes", …}</c> object (read by <see cref="Read"/>). Seed 000's monitor ran
/// <c>kubectl get pods -A -o json</c> and kept the pods whose name starts with <c>rocketchat-</c>, reached at
/// <c>http://{status.podIP}:{containerPort}</c>; these options keep that as the default and add a namespace, a label selector,
/// the port and the credentials.
/// </summary>
public sealed record KubernetesDiscoveryOptions
{
    /// <summary>The name prefix used when neither <c>labelSelector</c> nor <c>namePrefix</c> is given (seed 000's rule).</summary>
    public const string DefaultNamePrefix = "rocketchat-";

    /// <summary>The namespace whose pods are listed (<c>namespace</c>). <value>Default (null): the service account's namespace
    /// in a cluster, else the kubeconfig context's namespace, else <c>default</c>.</value></summary>
    public string? Namespace { get; init; }

    /// <summary>The label selector sent to the API server (<c>labelSelector</c>, e.g. <c>app=rocketchat</c>), syntax-checked by
    /// <see cref="KubernetesNames.ValidateSelector"/>. <value>Default: none.</value></summary>
    public string? LabelSelector { get; init; }

    /// <summary>Only pods whose name starts with this are kept (<c>namePrefix</c>); null keeps all.
    /// <value>Default: <see cref="DefaultNamePrefix"/> when no label selector is given, else none.</value></summary>
    public string? NamePrefix { get; init; }

    /// <summary>The container port to reach each pod on (<c>port</c> given as a number). <value>Default: see <see cref="PortName"/>.</value></summary>
    public int? Port { get; init; }

    /// <summary>The name of the container port to reach each pod on (<c>port</c> given as a string, e.g. <c>"http"</c>).
    /// <value>Default: when neither this nor <see cref="Port"/> is set, the pod's first container port named <c>http</c>,
    /// else its first declared container port, else the check's <c>instancePort</c>.</value></summary>
    public string? PortName { get; init; }

    /// <summary>The kubeconfig file's full path (<c>kubeconfig</c>; relative to the configuration file's folder, <c>~</c>
    /// expanded). <value>Default (null): in-cluster credentials when <c>KUBERNETES_SERVICE_HOST</c> is set, else
    /// <c>$KUBECONFIG</c>, else <c>~/.kube/config</c>.</value></summary>
    public string? Kubeconfig { get; init; }

    /// <summary>The kubeconfig context to use (<c>context</c>). <value>Default: the file's <c>current-context</c>.</value></summary>
    public string? Context { get; init; }

    /// <summary>
    /// Reads the Kubernetes fields of a <c>discovery</c> object: <c>namespace</c> (a DNS-1123 label), <c>labelSelector</c>
    /// (<see cref="KubernetesNames.SelectorRule"/>), <c>namePrefix</c> (a pod name's beginning, <c>""</c> for every pod),
    /// <c>port</c> (1–65535, or a container port's name), <c>kubeconfig</c> (an existing file) and <c>context</c>. It reads only
    /// these (the caller reads <c>type</c> and calls <see cref="ConfigObjectReader.RejectUnknownFields"/>). Every problem is
    /// recorded on <paramref name="discovery"/> naming the field, the value and what is allowed.
    /// </summary>
    /// <returns>The options, or <see langword="null"/> when a field was wrong.</returns>
    public static KubernetesDiscoveryOptions? Read(ConfigObjectReader discovery)
    {
        ArgumentNullException.ThrowIfNull(discovery);
        int before = discovery.Errors.Count;
        string? ns = discovery.String("namespace");
        if (ns is not null && !KubernetesNames.IsDns1123Label(ns))
        {
            discovery.Error("namespace", ConfigObjectReader.Quote(ns), $"must be {KubernetesNames.NamespaceRule}");
        }

        string? selector = discovery.String("labelSelector");
        if (selector is not null && KubernetesNames.ValidateSelector(selector) is { } problem)
        {
            discovery.Error("labelSelector", ConfigObjectReader.Quote(selector), $"{problem}; a label selector is {KubernetesNames.SelectorRule}");
        }

        string? prefix = discovery.String("namePrefix");
        if (prefix is not null && !KubernetesNames.IsPodNamePrefix(prefix))
        {
            discovery.Error("namePrefix", ConfigObjectReader.Quote(prefix),
                "must be the beginning of a pod name: up to 253 lowercase letters, digits, '-' and '.', starting with a letter or digit (\"\" keeps every pod)");
        }

        var (port, portName) = ReadPort(discovery);
        string? kubeconfig = discovery.String("kubeconfig");
        string? kubeconfigPath = null;
        if (kubeconfig is not null)
        {
            kubeconfigPath = kubeconfig.Trim().Length == 0 || kubeconfig.Contains('\0', StringComparison.Ordinal)
                ? null
                : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(discovery.File) ?? ".", ConfigLoader.ExpandHome(kubeconfig)));
            if (kubeconfigPath is null || !File.Exists(kubeconfigPath))
            {
                discovery.Error("kubeconfig", ConfigObjectReader.Quote(kubeconfig),
                    "file not found; it must be a kubeconfig file (relative paths are relative to the configuration file's folder). Leave it out to use in-cluster credentials, $KUBECONFIG or ~/.kube/config");
            }
        }

        string? context = discovery.String("context");
        if (context is { Length: 0 })
        {
            discovery.Error("context", "\"\"", "must name a context of the kubeconfig file (leave it out for its current-context)");
        }

        if (discovery.Errors.Count > before)
        {
            return null;
        }

        return new KubernetesDiscoveryOptions
        {
            Namespace = ns,
            LabelSelector = selector?.Trim(),
            NamePrefix = prefix is null ? (selector is null ? DefaultNamePrefix : null) : (prefix.Length == 0 ? null : prefix),
            Port = port,
            PortName = portName,
            Kubeconfig = kubeconfigPath,
            Context = context,
        };
    }

    /// <summary>What is looked for, for a check kind's <c>Describe</c>: e.g. <c>pods app=rocketchat in namespace chat</c>,
    /// <c>pods named rocketchat-* in namespace (default)</c>.</summary>
    public string Describe()
    {
        string which = (LabelSelector, NamePrefix) switch
        {
            (null, null) => "every pod",
            (null, { } p) => $"pods named {p}*",
            ({ } s, null) => $"pods {s}",
            ({ } s, { } p) => $"pods {s} named {p}*",
        };
        return $"{which} in namespace {Namespace ?? "(default)"}";
    }

    private static (int? Port, string? Name) ReadPort(ConfigObjectReader discovery)
    {
        const string Allowed = "must be a container port number from 1 to 65535 or the name of a container port (e.g. \"http\")";
        if (discovery.Raw("port") is not { } raw)
        {
            return (null, null);
        }

        if (raw.ValueKind == JsonValueKind.String)
        {
            string name = raw.GetString()!;
            if (!KubernetesNames.IsPortName(name))
            {
                discovery.Error("port", ConfigObjectReader.Quote(name), Allowed + "; a port name is 1 to 15 lowercase letters, digits and '-' with at least one letter");
                return (null, null);
            }

            return (null, name);
        }

        if (raw.ValueKind != JsonValueKind.Number)
        {
            discovery.Error("port", raw.GetRawText(), Allowed);
            return (null, null);
        }

        return ((int?)discovery.Integer("port", 1, 65535), null);
    }
}
