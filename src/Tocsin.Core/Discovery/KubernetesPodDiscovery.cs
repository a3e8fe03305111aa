using System.Globalization;
using System.Net;
using System.Security.Authentication;
using System.Text.Json;
using k8s;
using k8s.Authentication;
using k8s.Autorest;
using k8s.Exceptions;
using k8s.Models;

namespace Tocsin.Discovery;

/// <summary>One pod kept by <see cref="KubernetesPodDiscovery"/>: its name and where to reach it.</summary>
/// <param name="Name">The pod's <c>metadata.name</c>.</param>
/// <param name="Url"><c>http://{status.podIP}:{port}/</c> (IPv6 addresses in brackets).</param>
public sealed record DiscoveredPod(string Name, Uri Url);

/// <summary>A pod that matched the selector and prefix but is not an instance to use now.</summary>
/// <param name="Name">The pod's <c>metadata.name</c>.</param>
/// <param name="Reason">Why: <c>terminating</c>, <c>phase Pending</c> (or another phase), <c>not ready</c>, <c>no pod IP</c>,
/// <c>no container port named "…"</c>.</param>
public sealed record ExcludedPod(string Name, string Reason);

/// <summary>What one listing found.</summary>
/// <param name="Namespace">The namespace listed (the configured one or the default found).</param>
/// <param name="Instances">The running, ready pods with an IP, sorted by name (ordinal).</param>
/// <param name="Excluded">The other matching pods, sorted by name, with the reason.</param>
public sealed record KubernetesDiscoveryResult(string Namespace, IReadOnlyList<DiscoveredPod> Instances, IReadOnlyList<ExcludedPod> Excluded);

/// <summary>
/// Finds Rocket.Chat instances as pods through the Kubernetes API (KubernetesClient): <c>GET
/// /api/v1/namespaces/{namespace}/pods?labelSelector=…</c> (RBAC verb <c>list</c> on <c>pods</c> in that namespace), then keeps the
/// pods whose name starts with <see cref="KubernetesDiscoveryOptions.NamePrefix"/>, that are not being deleted
/// (<c>metadata.deletionTimestamp</c> unset), in phase <c>Running</c>, with the condition <c>Ready=True</c> and a
/// <c>status.podIP</c>. Credentials: the options' kubeconfig; else, in a pod (<c>KUBERNETES_SERVICE_HOST</c> set), the service
/// account's token and CA; else <c>$KUBECONFIG</c>; else <c>~/.kube/config</c>. One client is kept per credential source and
/// made again when the kubeconfig file changes. Thread-safe; dispose to release the clients.
/// </summary>
public sealed class KubernetesPodDiscovery : IDisposable
{
    /// <summary>How long one listing may take before it counts as unreachable (the caller's token may end it sooner).</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    private readonly KubernetesEnvironment _environment;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, CachedClient> _clients = new(StringComparer.Ordinal);
    private bool _disposed;

    /// <summary>Creates the discovery for <paramref name="environment"/> (default: <see cref="KubernetesEnvironment.FromProcess"/>).</summary>
    public KubernetesPodDiscovery(KubernetesEnvironment? environment = null) =>
        _environment = environment ?? KubernetesEnvironment.FromProcess();

    /// <summary>
    /// The URLs of the usable pods, <c>http://{podIP}:{port}/</c>, sorted by pod name. The port is
    /// <see cref="KubernetesDiscoveryOptions.Port"/>, else the container port named <see cref="KubernetesDiscoveryOptions.PortName"/>
    /// (a pod without it is left out), else the pod's first container port named <c>http</c>, else its first declared
    /// container port, else <paramref name="defaultPort"/> (the check's <c>instancePort</c>).
    /// </summary>
    /// <exception cref="KubernetesDiscoveryException">When the pods cannot be listed (see <see cref="KubernetesDiscoveryFailure"/>).</exception>
    /// <exception cref="OperationCanceledException">When <paramref name="cancellationToken"/> is cancelled.</exception>
    public async Task<IReadOnlyList<Uri>> DiscoverAsync(KubernetesDiscoveryOptions options, int defaultPort, CancellationToken cancellationToken)
    {
        var result = await DiscoverPodsAsync(options, defaultPort, cancellationToken).ConfigureAwait(false);
        return [.. result.Instances.Select(p => p.Url)];
    }

    /// <summary>Like <see cref="DiscoverAsync"/>, with the pod names, the namespace listed and the pods left out and why.</summary>
    /// <exception cref="KubernetesDiscoveryException">When the pods cannot be listed.</exception>
    /// <exception cref="OperationCanceledException">When <paramref name="cancellationToken"/> is cancelled.</exception>
    public async Task<KubernetesDiscoveryResult> DiscoverPodsAsync(KubernetesDiscoveryOptions options, int defaultPort, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(defaultPort, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(defaultPort, 65535);
        var client = GetClient(options);
        string ns = options.Namespace ?? client.DefaultNamespace;
        V1PodList list;
        try
        {
            list = await client.Client.CoreV1.ListNamespacedPodAsync(ns, labelSelector: options.LabelSelector, cancellationToken: cancellationToken)
                .ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw Explain(ex, client, ns);
        }

        return Select(list, ns, options, defaultPort);
    }

    /// <summary>Keeps the usable pods of <paramref name="list"/> (see the class summary).</summary>
    internal static KubernetesDiscoveryResult Select(V1PodList list, string ns, KubernetesDiscoveryOptions options, int defaultPort)
    {
        var instances = new List<DiscoveredPod>();
        var excluded = new List<ExcludedPod>();
        foreach (var pod in (list.Items ?? []).Where(p => p.Metadata?.Name is not null).OrderBy(p => p.Metadata.Name, StringComparer.Ordinal))
        {
            string name = pod.Metadata.Name;
            if (options.NamePrefix is { } prefix && !name.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            string? reason = null;
            int? port = null;
            if (pod.Metadata.DeletionTimestamp is not null)
            {
                reason = "terminating";
            }
            else if (pod.Status?.Phase != "Running")
            {
                reason = $"phase {pod.Status?.Phase ?? "unknown"}";
            }
            else if (!(pod.Status.Conditions ?? []).Any(c => c.Type == "Ready" && c.Status == "True"))
            {
                reason = "not ready";
            }
            else if (string.IsNullOrEmpty(pod.Status.PodIP) || !IPAddress.TryParse(pod.Status.PodIP, out _))
            {
                reason = "no pod IP";
            }
            else
            {
                port = PortOf(pod, options, defaultPort);
                reason = port is null ? $"no container port named \"{options.PortName}\"" : null;
            }

            if (reason is not null || port is null)
            {
                excluded.Add(new ExcludedPod(name, reason ?? "no port"));
                continue;
            }

            instances.Add(new DiscoveredPod(name, new UriBuilder(Uri.UriSchemeHttp, pod.Status!.PodIP, port.Value, "/").Uri));
        }

        return new KubernetesDiscoveryResult(ns, instances, excluded);
    }

    private static int? PortOf(V1Pod pod, KubernetesDiscoveryOptions options, int defaultPort)
    {
        if (options.Port is { } fixedPort)
        {
            return fixedPort;
        }

        var ports = (pod.Spec?.Containers ?? []).SelectMany(c => c.Ports ?? []).ToList();
        if (options.PortName is { } portName)
        {
            return ports.FirstOrDefault(p => p.Name == portName)?.ContainerPort;
        }

        return ports.FirstOrDefault(p => p.Name == "http")?.ContainerPort ?? ports.FirstOrDefault()?.ContainerPort ?? defaultPort;
    }

    /// <summary>How many clients are kept (one per credential source), for tests.</summary>
    internal int ClientCount
    {
        get
        {
            lock (_lock)
            {
                return _clients.Count;
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            foreach (var c in _clients.Values)
            {
                c.Client.Dispose();
            }

            _clients.Clear();
        }
    }

    private CachedClient GetClient(KubernetesDiscoveryOptions options)
    {
        var source = FindSource(options);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_clients.TryGetValue(source.Key, out var cached) && cached.Stamp == source.Stamp)
            {
                return cached;
            }

            var made = Create(source);
            if (cached is not null)
            {
                // The kubeconfig changed (a rotated token, a new server): a run still using the old client may fail once.
                cached.Client.Dispose();
            }

            _clients[source.Key] = made;
            return made;
        }
    }

    private Source FindSource(KubernetesDiscoveryOptions options)
    {
        if (options.Kubeconfig is { } explicitPath)
        {
            return FileSource(explicitPath, options.Context, "the check's kubeconfig");
        }

        if (_environment.InCluster)
        {
            string folder = _environment.ServiceAccountFolder;
            return new Source($"in-cluster|{folder}", Stamp(Path.Combine(folder, "ca.crt")), null, null, $"the pod's service account ({folder})");
        }

        foreach (string path in (_environment.KubeconfigVariable ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (File.Exists(path))
            {
                return FileSource(Path.GetFullPath(path), options.Context, "$KUBECONFIG");
            }
        }

        string home = Path.Combine(_environment.HomeFolder, ".kube", "config");
        if (File.Exists(home))
        {
            return FileSource(home, options.Context, "~/.kube/config");
        }

        throw new KubernetesDiscoveryException(KubernetesDiscoveryFailure.Configuration,
            "no Kubernetes credentials: not running in a pod (KUBERNETES_SERVICE_HOST is not set), " +
            $"no kubeconfig in $KUBECONFIG ({(string.IsNullOrEmpty(_environment.KubeconfigVariable) ? "not set" : "no such file")}) nor at {home}; " +
            "set \"kubeconfig\" in the check's discovery object");
    }

    private static Source FileSource(string path, string? context, string origin) =>
        new($"file|{path}|{context}", Stamp(path), path, context, $"kubeconfig {path} ({origin}{(context is null ? "" : $", context \"{context}\"")})");

    private static string Stamp(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? string.Create(CultureInfo.InvariantCulture, $"{info.LastWriteTimeUtc.Ticks}/{info.Length}") : "missing";
    }

    private CachedClient Create(Source source)
    {
        KubernetesClientConfiguration config;
        string defaultNamespace;
        try
        {
            if (source.Path is { } path)
            {
                config = KubernetesClientConfiguration.BuildConfigFromConfigFile(path, currentContext: source.Context);
                defaultNamespace = string.IsNullOrEmpty(config.Namespace) ? "default" : config.Namespace;
            }
            else
            {
                (config, defaultNamespace) = InClusterConfig();
            }
        }
        catch (KubernetesDiscoveryException)
        {
            throw;
        }
        catch (KubeConfigException ex)
        {
            throw new KubernetesDiscoveryException(KubernetesDiscoveryFailure.Configuration, $"cannot use {source.Description}: {ex.Message}");
        }
        catch (YamlDotNet.Core.YamlException ex)
        {
            // The YAML parser's message may quote the file's text (tokens, keys): give the position only.
            throw new KubernetesDiscoveryException(KubernetesDiscoveryFailure.Configuration,
                $"cannot use {source.Description}: not a valid kubeconfig (YAML error at line {ex.Start.Line}, column {ex.Start.Column})");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or ArgumentException
            or System.Security.Cryptography.CryptographicException or NullReferenceException or InvalidOperationException)
        {
            throw new KubernetesDiscoveryException(KubernetesDiscoveryFailure.Configuration,
                $"cannot use {source.Description}: {ex.GetType().Name} while reading it (a missing field, or certificate or key data that is not valid base64 PEM)");
        }

        config.HttpClientTimeout = RequestTimeout;
        var host = new Uri(config.Host ?? "https://kubernetes.default.svc/", UriKind.Absolute);
        try
        {
            return new CachedClient(source.Stamp, new Kubernetes(config), defaultNamespace, host.GetLeftPart(UriPartial.Authority), source.Description);
        }
        catch (Exception ex) when (ex is IOException or FormatException or ArgumentException or System.Security.Cryptography.CryptographicException or KubeConfigException)
        {
            throw new KubernetesDiscoveryException(KubernetesDiscoveryFailure.Configuration,
                $"cannot use {source.Description}: {ex.GetType().Name} while setting up its credentials (client certificate or key not usable)");
        }
    }

    private (KubernetesClientConfiguration Config, string DefaultNamespace) InClusterConfig()
    {
        string folder = _environment.ServiceAccountFolder;
        string token = Path.Combine(folder, "token"), ca = Path.Combine(folder, "ca.crt"), nsFile = Path.Combine(folder, "namespace");
        foreach (string required in new[] { token, ca })
        {
            if (!File.Exists(required))
            {
                throw new KubernetesDiscoveryException(KubernetesDiscoveryFailure.Configuration,
                    $"running in a pod (KUBERNETES_SERVICE_HOST is set) but {required} is missing: mount the service account's token " +
                    "(automountServiceAccountToken must not be false), or set \"kubeconfig\" in the check's discovery object");
            }
        }

        string port = string.IsNullOrWhiteSpace(_environment.ServicePort) ? "443" : _environment.ServicePort.Trim();
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int portNumber) || portNumber is < 1 or > 65535)
        {
            throw new KubernetesDiscoveryException(KubernetesDiscoveryFailure.Configuration, $"KUBERNETES_SERVICE_PORT is {port}: not a port number");
        }

        string ns = File.Exists(nsFile) ? File.ReadAllText(nsFile).Trim() : "";
        var caCerts = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
        caCerts.ImportFromPemFile(ca);
        var config = new KubernetesClientConfiguration
        {
            Host = new UriBuilder(Uri.UriSchemeHttps, _environment.ServiceHost!.Trim(), portNumber).Uri.ToString(),
            TokenProvider = new TokenFileAuth(token),
            SslCaCerts = caCerts,
        };
        return (config, ns.Length == 0 ? "default" : ns);
    }

    private static KubernetesDiscoveryException Explain(Exception ex, CachedClient client, string ns)
    {
        switch (ex)
        {
            case HttpOperationException { Response: { } response }:
            {
                int status = (int)response.StatusCode;
                string said = StatusMessage(response.Content);
                return status switch
                {
                    401 => new KubernetesDiscoveryException(KubernetesDiscoveryFailure.Unauthorized,
                        $"the Kubernetes API at {client.Host} refused the credentials of {client.Source} (HTTP 401 Unauthorized): the token or client certificate is wrong, expired or revoked")
                    { StatusCode = status },
                    403 => new KubernetesDiscoveryException(KubernetesDiscoveryFailure.Forbidden,
                        $"RBAC does not allow listing pods in namespace \"{ns}\" (HTTP 403 Forbidden{(said.Length > 0 ? $": {said}" : "")}): " +
                        $"bind the identity of {client.Source} to a Role in namespace \"{ns}\" that allows the verbs \"get\" and \"list\" on the " +
                        "resource \"pods\" (API group \"\"), as deploy/kubernetes/role.yaml does")
                    { StatusCode = status },
                    _ => new KubernetesDiscoveryException(KubernetesDiscoveryFailure.ApiError,
                        $"the Kubernetes API at {client.Host} answered HTTP {status} to listing pods in namespace \"{ns}\"{(said.Length > 0 ? $": {said}" : "")}")
                    { StatusCode = status },
                };
            }

            case HttpRequestException h:
                return new KubernetesDiscoveryException(KubernetesDiscoveryFailure.Unreachable,
                    $"cannot reach the Kubernetes API at {client.Host}: " + (h.InnerException is AuthenticationException a
                        ? $"TLS handshake failed ({a.Message}); is the kubeconfig's certificate-authority-data (or the service account's ca.crt) the cluster's CA?"
                        : h.Message));
            case OperationCanceledException:
                return new KubernetesDiscoveryException(KubernetesDiscoveryFailure.Unreachable,
                    $"the Kubernetes API at {client.Host} did not answer within {RequestTimeout.TotalSeconds:0} s");
            case JsonException:
                return new KubernetesDiscoveryException(KubernetesDiscoveryFailure.ApiError,
                    $"the Kubernetes API at {client.Host} answered something that is not a pod list");
            case KubeConfigException or IOException or UnauthorizedAccessException:
                // Reading credentials at request time: the service-account token file, an exec plugin.
                return new KubernetesDiscoveryException(KubernetesDiscoveryFailure.Configuration,
                    $"cannot use the credentials of {client.Source}: {ex.GetType().Name} while reading them");
            default:
                return new KubernetesDiscoveryException(KubernetesDiscoveryFailure.ApiError,
                    $"listing pods in namespace \"{ns}\" at {client.Host} failed: {ex.GetType().Name}");
        }
    }

    /// <summary>The <c>message</c> of a Kubernetes <c>Status</c> body (e.g. <c>pods is forbidden: User "…" cannot list resource
    /// "pods" in API group "" in the namespace "chat"</c>), at most 300 characters; empty when the body is not one.</summary>
    private static string StatusMessage(string? body)
    {
        if (string.IsNullOrEmpty(body))
        {
            return "";
        }

        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String
                ? Truncate(m.GetString()!)
                : "";
        }
        catch (JsonException)
        {
            return "";
        }
    }

    private static string Truncate(string s) => s.Length <= 300 ? s : s[..297] + "...";

    private sealed record Source(string Key, string Stamp, string? Path, string? Context, string Description);

    private sealed record CachedClient(string Stamp, Kubernetes Client, string DefaultNamespace, string Host, string Source);
}
