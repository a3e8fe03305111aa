using System.Globalization;
using System.Text.Json.Nodes;

namespace Tocsin.KubernetesEmulator;

/// <summary>The pod phases of <c>status.phase</c>.</summary>
public static class KubernetesPodPhase
{
    /// <summary>Accepted, not all containers running yet (scheduling, pulling images).</summary>
    public const string Pending = "Pending";

    /// <summary>Bound to a node, every container created, at least one running.</summary>
    public const string Running = "Running";

    /// <summary>Every container ended with success.</summary>
    public const string Succeeded = "Succeeded";

    /// <summary>Every container ended, at least one with failure.</summary>
    public const string Failed = "Failed";
}

/// <summary>A container port of a pod's spec (<c>spec.containers[].ports[]</c>).</summary>
/// <param name="ContainerPort">The port number, 1–65535.</param>
/// <param name="Name">Its IANA_SVC_NAME (e.g. <c>http</c>), or null.</param>
/// <param name="Protocol"><c>TCP</c>, <c>UDP</c> or <c>SCTP</c>.</param>
public sealed record KubernetesContainerPort(int ContainerPort, string? Name = null, string Protocol = "TCP");

/// <summary>A container of a pod's spec (<c>spec.containers[]</c>).</summary>
/// <param name="Name">The container's name.</param>
/// <param name="Image">Its image.</param>
/// <param name="Ports">The ports it declares (may be empty).</param>
public sealed record KubernetesContainer(string Name, string Image, IReadOnlyList<KubernetesContainerPort> Ports);

/// <summary>
/// An emulated pod: what <see cref="KubernetesEmulator"/> serves in <c>PodList</c> and <c>Pod</c> answers. Immutable: change
/// one with <c>with</c> and <see cref="KubernetesEmulator.Apply"/> or <see cref="KubernetesEmulator.Update"/>.
/// </summary>
public sealed record KubernetesPod
{
    /// <summary><c>metadata.name</c>.</summary>
    public required string Name { get; init; }

    /// <summary><c>metadata.namespace</c>. <value>Default: <c>default</c>.</value></summary>
    public string Namespace { get; init; } = "default";

    /// <summary><c>metadata.labels</c>. <value>Default: none.</value></summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary><c>metadata.uid</c>. <value>Default: a new UUID.</value></summary>
    public string Uid { get; init; } = Guid.NewGuid().ToString();

    /// <summary><c>status.phase</c> (<see cref="KubernetesPodPhase"/>). <value>Default: Running.</value></summary>
    public string Phase { get; init; } = KubernetesPodPhase.Running;

    /// <summary>The <c>Ready</c> and <c>ContainersReady</c> conditions: <c>True</c> or <c>False</c>. <value>Default: true.</value></summary>
    public bool Ready { get; init; } = true;

    /// <summary><c>status.podIP</c> (and <c>status.podIPs</c>), or null before one is assigned.</summary>
    public string? PodIP { get; init; }

    /// <summary><c>spec.nodeName</c>. <value>Default: <c>node-1</c>.</value></summary>
    public string? NodeName { get; init; } = "node-1";

    /// <summary><c>metadata.deletionTimestamp</c>: set while the pod is terminating. <value>Default: null.</value></summary>
    public DateTimeOffset? DeletionTimestamp { get; init; }

    /// <summary><c>metadata.creationTimestamp</c>. <value>Default: 2026-01-01T00:00:00Z.</value></summary>
    public DateTimeOffset CreationTimestamp { get; init; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary><c>spec.containers</c>. <value>Default: none.</value></summary>
    public IReadOnlyList<KubernetesContainer> Containers { get; init; } = [];

    /// <summary>
    /// A running, ready Rocket.Chat pod as its Deployment makes it: container <c>rocketchat</c> with port
    /// <paramref name="port"/> named <c>http</c>, labels <c>app=rocketchat</c> plus <paramref name="labels"/>
    /// (<c>key=value</c> each).
    /// </summary>
    public static KubernetesPod RocketChat(string name, string podIp, int port = 3000, string ns = "default", params string[] labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var all = new Dictionary<string, string>(StringComparer.Ordinal) { ["app"] = "rocketchat" };
        foreach (string label in labels)
        {
            int eq = label.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new ArgumentException($"label {label}: expected key=value", nameof(labels));
            }

            all[label[..eq]] = label[(eq + 1)..];
        }

        return new KubernetesPod
        {
            Name = name,
            Namespace = ns,
            Labels = all,
            PodIP = podIp,
            Containers = [new KubernetesContainer("rocketchat", "registry.rocket.chat/rocketchat/rocket.chat:6.13.0", [new KubernetesContainerPort(port, "http")])],
        };
    }

    /// <summary>The value of a field selector's field (<c>metadata.name</c>, <c>metadata.namespace</c>, <c>status.phase</c>,
    /// <c>status.podIP</c>, <c>spec.nodeName</c>), or null when the API server does not support selecting on it.</summary>
    internal string? FieldValue(string field) => field switch
    {
        "metadata.name" => Name,
        "metadata.namespace" => Namespace,
        "status.phase" => Phase,
        "status.podIP" => PodIP ?? "",
        "spec.nodeName" => NodeName ?? "",
        _ => null,
    };

    /// <summary>The pod as the API server writes it (<c>v1.Pod</c>; <c>kind</c>/<c>apiVersion</c> only outside lists).</summary>
    internal JsonObject ToJson(long resourceVersion, bool withKind)
    {
        string created = Timestamp(CreationTimestamp);
        var metadata = new JsonObject
        {
            ["name"] = Name,
            ["namespace"] = Namespace,
            ["uid"] = Uid,
            ["resourceVersion"] = resourceVersion.ToString(CultureInfo.InvariantCulture),
            ["creationTimestamp"] = created,
            ["labels"] = new JsonObject([.. Labels.Select(l => new KeyValuePair<string, JsonNode?>(l.Key, l.Value))]),
        };
        if (DeletionTimestamp is { } deleted)
        {
            metadata["deletionTimestamp"] = Timestamp(deleted);
            metadata["deletionGracePeriodSeconds"] = 30;
        }

        var spec = new JsonObject
        {
            ["containers"] = new JsonArray([.. Containers.Select(c => (JsonNode)new JsonObject
            {
                ["name"] = c.Name,
                ["image"] = c.Image,
                ["ports"] = new JsonArray([.. c.Ports.Select(p => (JsonNode)PortJson(p))]),
                ["resources"] = new JsonObject(),
                ["imagePullPolicy"] = "IfNotPresent",
            })]),
            ["restartPolicy"] = "Always",
            ["serviceAccountName"] = "default",
        };
        if (NodeName is not null && Phase != KubernetesPodPhase.Pending)
        {
            spec["nodeName"] = NodeName;
        }

        bool scheduled = Phase != KubernetesPodPhase.Pending || PodIP is not null;
        var status = new JsonObject
        {
            ["phase"] = Phase,
            ["conditions"] = new JsonArray(
                Condition("PodScheduled", scheduled, created),
                Condition("Initialized", scheduled, created),
                Condition("ContainersReady", Ready, created),
                Condition("Ready", Ready, created)),
            ["qosClass"] = "BestEffort",
        };
        if (PodIP is not null)
        {
            status["podIP"] = PodIP;
            status["podIPs"] = new JsonArray(new JsonObject { ["ip"] = PodIP });
            status["hostIP"] = "192.0.2.1";
            status["startTime"] = created;
        }

        var pod = new JsonObject();
        if (withKind)
        {
            pod["kind"] = "Pod";
            pod["apiVersion"] = "v1";
        }

        pod["metadata"] = metadata;
        pod["spec"] = spec;
        pod["status"] = status;
        return pod;
    }

    private static JsonObject PortJson(KubernetesContainerPort p)
    {
        var port = new JsonObject();
        if (p.Name is not null)
        {
            port["name"] = p.Name;
        }

        port["containerPort"] = p.ContainerPort;
        port["protocol"] = p.Protocol;
        return port;
    }

    private static JsonObject Condition(string type, bool status, string time) => new()
    {
        ["type"] = type,
        ["status"] = status ? "True" : "False",
        ["lastProbeTime"] = null,
        ["lastTransitionTime"] = time,
    };

    /// <summary>RFC 3339 in UTC with seconds, as the API server writes times.</summary>
    internal static string Timestamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
