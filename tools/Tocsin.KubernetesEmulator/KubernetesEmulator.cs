using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tocsin.KubernetesEmulator;

/// <summary>Settings of an emulated Kubernetes API server.</summary>
public sealed class KubernetesEmulatorOptions
{
    /// <summary>Serve HTTPS with a self-signed certificate for 127.0.0.1 and localhost (its PEM is
    /// <see cref="KubernetesEmulator.CertificateAuthorityPem"/>), as a real API server and in-cluster clients need; else plain
    /// HTTP, which KubernetesClient accepts from a kubeconfig. <value>Default: false.</value></summary>
    public bool Tls { get; init; }

    /// <summary>The Kubernetes version <c>/version</c> reports. <value>Default: <c>v1.31.4</c>.</value></summary>
    public string Version { get; init; } = "v1.31.4";

    /// <summary>The clock for deletion timestamps. <value>Default: the system clock.</value></summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>One request the emulator received.</summary>
/// <param name="Endpoint">Method and route, e.g. <c>GET /api/v1/namespaces/{namespace}/pods</c>.</param>
/// <param name="Path">The request path.</param>
/// <param name="Query">The query string, with its leading <c>?</c> (empty when none).</param>
/// <param name="User">The authenticated user, or null.</param>
/// <param name="Status">The HTTP status answered.</param>
public sealed record KubernetesCall(string Endpoint, string Path, string Query, string? User, int Status);

/// <summary>
/// An emulated Kubernetes API server on 127.0.0.1 for tests and demos, speaking the real wire format for what pod discovery
/// needs: <c>GET /version</c>, <c>GET /api</c>, <c>GET /api/v1/namespaces/{namespace}/pods</c> and <c>GET /api/v1/pods</c>
/// (<c>PodList</c>, with <c>labelSelector</c> and <c>fieldSelector</c>), <c>GET /api/v1/namespaces/{namespace}/pods/{name}</c>;
/// bearer tokens of service accounts (401 <c>Status</c> <c>Unauthorized</c> without a known one) and their RBAC rules on pods
/// (403 <c>Status</c> <c>Forbidden</c> worded as the API server words it). Pods are scripted with <see cref="Apply"/>,
/// <see cref="Update"/> and <see cref="Delete"/>; <see cref="WriteKubeconfig(string, KubernetesServiceAccount, string?, string)"/> writes a kubeconfig for a service account.
/// </summary>
public sealed class KubernetesEmulator : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Namespace, string Name), (KubernetesPod Pod, long Version)> _pods = [];
    private readonly List<KubernetesServiceAccount> _accounts = [];
    private readonly List<KubernetesCall> _calls = [];
    private readonly KubernetesEmulatorOptions _options;
    private WebApplication? _app;
    private long _resourceVersion = 1000;

    private KubernetesEmulator(KubernetesEmulatorOptions options) => _options = options;

    /// <summary>Where it listens, e.g. <c>http://127.0.0.1:40123/</c> (<c>https://</c> with <see cref="KubernetesEmulatorOptions.Tls"/>).</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The self-signed server certificate in PEM (<c>ca.crt</c> of a service account, <c>certificate-authority-data</c>
    /// of a kubeconfig), or null without TLS.</summary>
    public string? CertificateAuthorityPem { get; private set; }

    /// <summary>The pods, sorted by namespace then name (a snapshot).</summary>
    public IReadOnlyList<KubernetesPod> Pods
    {
        get
        {
            lock (_lock)
            {
                return [.. _pods.OrderBy(p => p.Key.Namespace, StringComparer.Ordinal).ThenBy(p => p.Key.Name, StringComparer.Ordinal).Select(p => p.Value.Pod)];
            }
        }
    }

    /// <summary>Every request received so far, oldest first (a snapshot).</summary>
    public IReadOnlyList<KubernetesCall> Calls
    {
        get
        {
            lock (_lock)
            {
                return [.. _calls];
            }
        }
    }

    /// <summary>How many requests hit <paramref name="endpoint"/>, e.g. <c>GET /api/v1/namespaces/{namespace}/pods</c>.</summary>
    public int CallCount(string endpoint)
    {
        lock (_lock)
        {
            return _calls.Count(c => c.Endpoint == endpoint);
        }
    }

    /// <summary>Starts the server on a free loopback port.</summary>
    public static async Task<KubernetesEmulator> StartAsync(KubernetesEmulatorOptions? options = null, CancellationToken cancellationToken = default)
    {
        var emulator = new KubernetesEmulator(options ?? new KubernetesEmulatorOptions());
        await emulator.StartServerAsync(cancellationToken).ConfigureAwait(false);
        return emulator;
    }

    /// <summary>Adds a service account with <paramref name="token"/> (default: a random one). It may do nothing until
    /// <see cref="KubernetesServiceAccount.Allow"/>.</summary>
    public KubernetesServiceAccount AddServiceAccount(string ns, string name, string? token = null)
    {
        var account = new KubernetesServiceAccount(ns, name, token);
        lock (_lock)
        {
            _accounts.Add(account);
        }

        return account;
    }

    /// <summary>Removes the account: its token is refused (401) from now on.</summary>
    public void RemoveServiceAccount(KubernetesServiceAccount account)
    {
        lock (_lock)
        {
            _accounts.Remove(account);
        }
    }

    /// <summary>Adds the pod, or replaces the one with the same namespace and name (as <c>kubectl apply</c>).</summary>
    public void Apply(KubernetesPod pod)
    {
        ArgumentNullException.ThrowIfNull(pod);
        lock (_lock)
        {
            _pods[(pod.Namespace, pod.Name)] = (pod, ++_resourceVersion);
        }
    }

    /// <summary>Changes a pod, e.g. <c>Update("chat", "rocketchat-1", p =&gt; p with { Ready = false })</c>; returns the new pod.</summary>
    /// <exception cref="KeyNotFoundException">When there is no such pod.</exception>
    public KubernetesPod Update(string ns, string name, Func<KubernetesPod, KubernetesPod> change)
    {
        ArgumentNullException.ThrowIfNull(change);
        lock (_lock)
        {
            if (!_pods.TryGetValue((ns, name), out var current))
            {
                throw new KeyNotFoundException($"no pod {ns}/{name}");
            }

            var changed = change(current.Pod) with { Namespace = ns, Name = name };
            _pods[(ns, name)] = (changed, ++_resourceVersion);
            return changed;
        }
    }

    /// <summary>Starts deleting a pod: sets its <c>deletionTimestamp</c> to now (it stays listed, terminating, until <see cref="Delete"/>).</summary>
    /// <exception cref="KeyNotFoundException">When there is no such pod.</exception>
    public KubernetesPod Terminate(string ns, string name) =>
        Update(ns, name, p => p with { DeletionTimestamp = _options.Time.GetUtcNow() });

    /// <summary>Removes a pod; false when there was none.</summary>
    public bool Delete(string ns, string name)
    {
        lock (_lock)
        {
            _resourceVersion++;
            return _pods.Remove((ns, name));
        }
    }

    /// <summary>
    /// A kubeconfig (YAML) for <paramref name="token"/>: cluster <c>emulator</c> at <see cref="BaseAddress"/> (with
    /// <c>certificate-authority-data</c> under TLS), user <c>emulator-user</c> with the token, and the context
    /// <paramref name="context"/> (the current one) with <paramref name="ns"/> as its namespace when given.
    /// </summary>
    public string KubeconfigYaml(string token, string? ns = null, string context = "emulator")
    {
        ArgumentNullException.ThrowIfNull(token);
        var yaml = new StringBuilder();
        yaml.Append("apiVersion: v1\nkind: Config\nclusters:\n- name: emulator\n  cluster:\n");
        yaml.Append(CultureInfo.InvariantCulture, $"    server: {Quote(BaseAddress.GetLeftPart(UriPartial.Authority))}\n");
        if (CertificateAuthorityPem is { } pem)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"    certificate-authority-data: {Convert.ToBase64String(Encoding.ASCII.GetBytes(pem))}\n");
        }

        yaml.Append("users:\n- name: emulator-user\n  user:\n");
        yaml.Append(CultureInfo.InvariantCulture, $"    token: {Quote(token)}\n");
        yaml.Append(CultureInfo.InvariantCulture, $"contexts:\n- name: {Quote(context)}\n  context:\n    cluster: emulator\n    user: emulator-user\n");
        if (ns is not null)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"    namespace: {Quote(ns)}\n");
        }

        yaml.Append(CultureInfo.InvariantCulture, $"current-context: {Quote(context)}\n");
        return yaml.ToString();
    }

    /// <summary>Writes <see cref="KubeconfigYaml"/> for the account to <paramref name="path"/> (mode 0600 on Unix); returns the path.</summary>
    public string WriteKubeconfig(string path, KubernetesServiceAccount account, string? ns = null, string context = "emulator")
    {
        ArgumentNullException.ThrowIfNull(account);
        return WriteKubeconfig(path, account.Token, ns, context);
    }

    /// <summary>Writes <see cref="KubeconfigYaml"/> for <paramref name="token"/> to <paramref name="path"/> (mode 0600 on Unix); returns the path.</summary>
    public string WriteKubeconfig(string path, string token, string? ns = null, string context = "emulator")
    {
        File.WriteAllText(path, KubeconfigYaml(token, ns, context));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return path;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.StopAsync().ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    // A JSON string is a valid YAML double-quoted scalar.
    private static string Quote(string s) => JsonSerializer.Serialize(s);

    private async Task StartServerAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseShutdownTimeout(TimeSpan.FromSeconds(1));
        if (_options.Tls)
        {
            var certificate = CreateCertificate();
            CertificateAuthorityPem = certificate.ExportCertificatePem();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(certificate)));
        }
        else
        {
            builder.WebHost.UseUrls("http://127.0.0.1:0");
        }

        var app = builder.Build();
        app.Use(async (context, next) =>
        {
            await next(context).ConfigureAwait(false);
            Record(context);
        });
        KubernetesApi.Map(app, this);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        string address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        BaseAddress = new Uri((address.EndsWith('/') ? address : address + "/").Replace("[::1]", "127.0.0.1", StringComparison.Ordinal));
        _app = app;
    }

    private void Record(HttpContext context)
    {
        string endpoint = context.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } pattern }
            ? $"{context.Request.Method} {pattern}"
            : $"{context.Request.Method} {context.Request.Path}";
        var call = new KubernetesCall(endpoint, context.Request.Path.ToString(), context.Request.QueryString.ToString(),
            context.Items.TryGetValue(KubernetesApi.UserItem, out var user) ? user as string : null, context.Response.StatusCode);
        lock (_lock)
        {
            _calls.Add(call);
        }
    }

    /// <summary>The account whose token is <paramref name="token"/>, or null.</summary>
    internal KubernetesServiceAccount? Authenticate(string token)
    {
        lock (_lock)
        {
            return _accounts.FirstOrDefault(a => CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a.Token), Encoding.UTF8.GetBytes(token)));
        }
    }

    /// <summary>The pods of <paramref name="ns"/> (every namespace when null) with their resource versions, and the list's version.</summary>
    internal (List<(KubernetesPod Pod, long Version)> Pods, long ListVersion) Snapshot(string? ns)
    {
        lock (_lock)
        {
            return ([.. _pods.Values.Where(p => ns is null || p.Pod.Namespace == ns)
                .OrderBy(p => p.Pod.Namespace, StringComparer.Ordinal).ThenBy(p => p.Pod.Name, StringComparer.Ordinal)], _resourceVersion);
        }
    }

    internal string Version => _options.Version;

    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=kubernetes-emulator", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var now = DateTimeOffset.UtcNow;
        using var created = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));
        // Through PKCS#12 so that the private key is usable by the TLS stack on every platform.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }
}
