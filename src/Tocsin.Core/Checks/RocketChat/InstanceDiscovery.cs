using System.Globalization;
using System.Text.Json;
using Tocsin.Configuration;
using Tocsin.Discovery;

namespace Tocsin.Checks.RocketChat;

/// <summary>How a Rocket.Chat check finds the cluster's instances (config <c>discovery.type</c>).</summary>
public enum DiscoveryType
{
    /// <summary><c>"instances-api"</c> (the default): <c>GET {serverUrl}/api/v1/instances.get</c>, each instance reached at
    /// <c>http://{address}:{instanceRecord.extraInformation.port}</c> (<c>instancePort</c> when the port is not listed).</summary>
    InstancesApi,
    /// <summary><c>"static"</c>, with <c>"urls": ["http://10.0.0.5:3000", …]</c>.</summary>
    Static,
    /// <summary><c>"kubernetes"</c>: running and ready pods listed through the Kubernetes API.</summary>
    Kubernetes,
}

/// <summary>
/// The <c>discovery</c> object of the Rocket.Chat checks, with <c>instancePort</c>: <c>{"type": "instances-api"}</c> (the default),
/// <c>{"type": "static", "urls": […]}</c>, or <c>{"type": "kubernetes", "namespace": "chat", "labelSelector": "app=rocketchat"}</c>.
/// </summary>
public sealed record InstanceDiscoveryOptions
{
    /// <summary>How instances are found. <value>Default: <see cref="DiscoveryType.InstancesApi"/>.</value></summary>
    public DiscoveryType Type { get; init; } = DiscoveryType.InstancesApi;

    /// <summary>The pods to look for, with <see cref="DiscoveryType.Kubernetes"/> (the discovery object's <c>namespace</c>,
    /// <c>labelSelector</c>, <c>namePrefix</c>, <c>port</c>, <c>kubeconfig</c>, <c>context</c>).</summary>
    public KubernetesDiscoveryOptions? Kubernetes { get; init; }

    /// <summary>The instances of a static discovery.</summary>
    public IReadOnlyList<Uri> StaticUrls { get; init; } = [];

    /// <summary>The port of instances listed without one (config <c>instancePort</c>, 1–65535). <value>Default: 3000.</value></summary>
    public int InstancePort { get; init; } = 3000;

    /// <summary>
    /// How long one instance may take to answer one request (config <c>instanceTimeout</c>, 100 ms – 5 min), so a slow or
    /// hung instance is reported while the others are still judged. <value>Default: 10 s.</value>
    /// </summary>
    public TimeSpan InstanceTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A short description for tables: <c>instances.get</c>, <c>3 static instances</c>, <c>pods app=rocketchat in chat</c>.</summary>
    public string Describe() => Type switch
    {
        DiscoveryType.Static => $"{StaticUrls.Count} static instances",
        DiscoveryType.Kubernetes when Kubernetes is not null => Kubernetes.Describe(),
        _ => "instances.get",
    };

    /// <summary>The description, with the static URLs: for the definition view.</summary>
    public override string ToString() =>
        Type == DiscoveryType.Static ? $"static: {string.Join(", ", StaticUrls.Select(u => u.GetLeftPart(UriPartial.Authority)))}" : Describe();

    /// <summary>
    /// Reads <c>instancePort</c>, <c>instanceTimeout</c> and the optional <c>discovery</c> object of a check. Errors (unknown type, a static discovery
    /// without URLs, a URL that is not http(s) or holds credentials, Kubernetes fields) go to <paramref name="r"/>.
    /// </summary>
    public static InstanceDiscoveryOptions Read(ConfigObjectReader r)
    {
        ArgumentNullException.ThrowIfNull(r);
        int port = (int)(r.Integer("instancePort", 1, 65535) ?? 3000);
        var timeout = r.Duration("instanceTimeout", TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5)) ?? TimeSpan.FromSeconds(10);
        var result = new InstanceDiscoveryOptions { InstancePort = port, InstanceTimeout = timeout };
        if (r.Object("discovery") is not { } d)
        {
            return result;
        }

        string? t = d.String("type", required: true);
        switch (t)
        {
            case "static":
                var urls = new List<Uri>();
                foreach (string u in d.StringList("urls") ?? [])
                {
                    if (Uri.TryCreate(u, UriKind.Absolute, out var parsed) && parsed.Scheme is "http" or "https" && parsed.UserInfo.Length == 0)
                    {
                        urls.Add(parsed);
                    }
                    else
                    {
                        d.Error("urls", ConfigObjectReader.Quote(u), "each must be an http:// or https:// URL of one instance, e.g. http://10.0.0.5:3000");
                    }
                }

                if (urls.Count == 0 && !d.Has("urls"))
                {
                    d.Error("urls", null, "is required with \"type\": \"static\": the instances' URLs");
                }

                result = result with { Type = DiscoveryType.Static, StaticUrls = urls };
                break;
            case "kubernetes":
                result = result with { Type = DiscoveryType.Kubernetes, Kubernetes = KubernetesDiscoveryOptions.Read(d) };
                break;
            case null or "instances-api":
                break;
            default:
                d.Error("type", ConfigObjectReader.Quote(t),
                    "allowed: \"instances-api\" (GET /api/v1/instances.get on serverUrl; the default), \"static\" (with \"urls\") or \"kubernetes\" (pods, with \"namespace\" and \"labelSelector\")");
                break;
        }

        d.RejectUnknownFields();
        return result;
    }
}

/// <summary>One Rocket.Chat instance as discovery found it.</summary>
/// <param name="Url">Where it answers, e.g. <c>http://10.0.0.5:3000/</c>.</param>
/// <param name="Id">Its instance record id (<c>instanceRecord._id</c>) when instances.get listed it, or the pod name.</param>
/// <param name="Connected">Its <c>currentStatus.connected</c> flag when instances.get listed it.</param>
/// <param name="LastHeartbeat">Its <c>currentStatus.lastHeartbeatTime</c> (UTC) when instances.get listed it.</param>
public sealed record RocketChatInstanceInfo(Uri Url, string? Id = null, bool? Connected = null, DateTimeOffset? LastHeartbeat = null)
{
    /// <summary>The instance's address for messages: <c>http://10.0.0.5:3000</c>.</summary>
    public string Address => Url.GetLeftPart(UriPartial.Authority);
}

/// <summary>Finds the instances of a Rocket.Chat cluster by <see cref="InstanceDiscoveryOptions"/>.</summary>
internal static class InstanceDiscovery
{
    // One for the process: it caches a Kubernetes client per credential source, shared by every Rocket.Chat check.
    private static readonly KubernetesPodDiscovery Pods = new();

    /// <summary>
    /// The instances for one run, or the UNKNOWN message a check reports when there are none to judge: the credentials
    /// refused by instances.get (<c>http://chat:3000 refused …</c>), the instances not listable
    /// (<c>cannot list the instances: …</c>), or none found (<c>no instance found (pods app=rocketchat in namespace chat)</c>).
    /// </summary>
    public static async Task<(IReadOnlyList<RocketChatInstanceInfo> Instances, string? Problem)> FindAsync(
        HttpClient http, InstanceDiscoveryOptions o, Uri? serverUrl, RocketChatCredentials? credentials, CancellationToken ct)
    {
        try
        {
            var instances = await DiscoverAsync(http, o, serverUrl, credentials, ct).ConfigureAwait(false);
            return (instances, instances.Count == 0 ? $"no instance found ({o.Describe()})" : null);
        }
        catch (RocketChatAuthException ex)
        {
            return ([], $"{serverUrl?.GetLeftPart(UriPartial.Authority)} {ex.Message}");
        }
        catch (RocketChatFetchException ex)
        {
            return ([], $"cannot list the instances: {ex.Message}");
        }
    }

    /// <summary>
    /// The instances, distinct by address, in the order found. For <see cref="DiscoveryType.InstancesApi"/>, reads
    /// <c>GET {serverUrl}/api/v1/instances.get</c> (seed 000's earlier version: <c>{"instances":[{"address","currentStatus":
    /// {"connected","lastHeartbeatTime"},"instanceRecord":{"_id","extraInformation":{"host","port"}}}],"success":true}</c>).
    /// </summary>
    /// <exception cref="RocketChatAuthException">When instances.get refuses the credentials.</exception>
    /// <exception cref="RocketChatFetchException">When instances.get cannot be read or has no <c>instances</c> array, or Kubernetes cannot be asked.</exception>
    public static async Task<IReadOnlyList<RocketChatInstanceInfo>> DiscoverAsync(
        HttpClient http, InstanceDiscoveryOptions o, Uri? serverUrl, RocketChatCredentials? credentials, CancellationToken ct)
    {
        switch (o.Type)
        {
            case DiscoveryType.Static:
                return [.. o.StaticUrls.Select(u => new RocketChatInstanceInfo(u)).DistinctBy(i => i.Address)];
            case DiscoveryType.Kubernetes when o.Kubernetes is not null:
                try
                {
                    var found = await Pods.DiscoverPodsAsync(o.Kubernetes, o.InstancePort, ct).ConfigureAwait(false);
                    return [.. found.Instances.Select(p => new RocketChatInstanceInfo(p.Url, p.Name)).DistinctBy(i => i.Address)];
                }
                catch (KubernetesDiscoveryException ex)
                {
                    throw new RocketChatFetchException($"Kubernetes: {ex.Message}");
                }

            default:
                if (serverUrl is null)
                {
                    throw new RocketChatFetchException("instances-api discovery needs serverUrl");
                }

                return await ReadInstancesGetAsync(http, serverUrl, credentials, o.InstancePort, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Reads <c>/api/v1/instances.get</c>; see <see cref="DiscoverAsync"/>.</summary>
    public static async Task<IReadOnlyList<RocketChatInstanceInfo>> ReadInstancesGetAsync(
        HttpClient http, Uri serverUrl, RocketChatCredentials? credentials, int defaultPort, CancellationToken ct)
    {
        using var doc = await RocketChatHttp.GetJsonAsync(http, new Uri(serverUrl, "api/v1/instances.get"), credentials, ct).ConfigureAwait(false);
        if (!doc.RootElement.TryGetProperty("instances", out var instances) || instances.ValueKind != JsonValueKind.Array)
        {
            throw new RocketChatFetchException("instances.get answered without an \"instances\" array");
        }

        var list = new List<RocketChatInstanceInfo>();
        foreach (var i in instances.EnumerateArray())
        {
            string? host = RocketChatHttp.Str(i, "address");
            string? port = null, id = null;
            if (i.TryGetProperty("instanceRecord", out var rec) && rec.ValueKind == JsonValueKind.Object)
            {
                id = RocketChatHttp.Str(rec, "_id");
                if (rec.TryGetProperty("extraInformation", out var extra) && extra.ValueKind == JsonValueKind.Object)
                {
                    host ??= RocketChatHttp.Str(extra, "host");
                    port = extra.TryGetProperty("port", out var p)
                        ? (p.ValueKind == JsonValueKind.String ? p.GetString() : p.ValueKind == JsonValueKind.Number ? p.GetRawText() : null)
                        : null;
                }
            }

            bool? connected = null;
            DateTimeOffset? heartbeat = null;
            if (i.TryGetProperty("currentStatus", out var status) && status.ValueKind == JsonValueKind.Object)
            {
                connected = status.TryGetProperty("connected", out var c) && c.ValueKind is JsonValueKind.True or JsonValueKind.False ? c.GetBoolean() : null;
                heartbeat = ReadTime(status, "lastHeartbeatTime");
            }

            if (host is not null && Uri.TryCreate($"http://{host}:{port ?? defaultPort.ToString(CultureInfo.InvariantCulture)}/", UriKind.Absolute, out var uri))
            {
                list.Add(new RocketChatInstanceInfo(uri, id, connected, heartbeat));
            }
        }

        return [.. list.DistinctBy(i => i.Address)];
    }

    // Rocket.Chat serialises dates as milliseconds since the epoch, {"$date": ms} (EJSON), or ISO 8601 strings.
    private static DateTimeOffset? ReadTime(JsonElement e, string name)
    {
        if (!e.TryGetProperty(name, out var v))
        {
            return null;
        }

        if (v.ValueKind == JsonValueKind.Object && v.TryGetProperty("$date", out var inner))
        {
            v = inner;
        }

        return v.ValueKind switch
        {
            JsonValueKind.Number when v.TryGetInt64(out long ms) && ms is > 0 and < 253402300800000 => DateTimeOffset.FromUnixTimeMilliseconds(ms),
            JsonValueKind.String when DateTimeOffset.TryParse(v.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) => t.ToUniversalTime(),
            _ => null,
        };
    }
}
