using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tocsin.Core.Tests.TestServers;

/// <summary>
/// A real Kestrel server on 127.0.0.1 (port chosen by the OS) that checks aim at. Routes, each
/// answering GET and HEAD:
/// <c>/ok</c> 200 "Example body"; <c>/500</c> 500; <c>/slow?ms=N</c> 200 after N ms;
/// <c>/redirect</c> 302 to <c>/ok</c>.
/// Use as a class fixture, or start one with <see cref="StartAsync"/> and dispose it.
/// </summary>
public class KestrelTarget : IAsyncLifetime
{
    /// <summary>What <c>/ok</c> answers.</summary>
    public const string OkBody = "Example body";

    private WebApplication? _app;

    /// <summary>An HTTP target (start it with <see cref="InitializeAsync"/>).</summary>
    public KestrelTarget()
        : this(null)
    {
    }

    /// <summary>An HTTPS target serving <paramref name="certificate"/>, or HTTP when it is null.</summary>
    protected KestrelTarget(X509Certificate2? certificate) => Certificate = certificate;

    /// <summary>The server certificate of an HTTPS target, else null.</summary>
    public X509Certificate2? Certificate { get; }

    /// <summary>Where the server listens, e.g. <c>http://127.0.0.1:40123/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>An absolute URL on this server.</summary>
    public Uri Url(string pathAndQuery) => new(BaseAddress, pathAndQuery);

    /// <summary>Starts a target; HTTPS when <paramref name="certificate"/> is given.</summary>
    public static async Task<KestrelTarget> StartAsync(X509Certificate2? certificate = null)
    {
        var target = new KestrelTarget(certificate);
        await target.InitializeAsync();
        return target;
    }

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseShutdownTimeout(TimeSpan.FromSeconds(2));
        string scheme = "http";
        if (Certificate is { } cert)
        {
            scheme = "https";
            builder.WebHost.UseKestrelHttpsConfiguration();
            builder.WebHost.ConfigureKestrel(k => k.ConfigureHttpsDefaults(h => h.ServerCertificate = cert));
        }

        builder.WebHost.UseUrls($"{scheme}://127.0.0.1:0");
        var app = builder.Build();
        string[] getAndHead = ["GET", "HEAD"];
        app.MapMethods("/ok", getAndHead, () => Results.Text(OkBody, "text/plain; charset=utf-8"));
        app.MapMethods("/500", getAndHead, () => Results.Text("server error", "text/plain; charset=utf-8", statusCode: 500));
        app.MapMethods("/slow", getAndHead, async (int ms, CancellationToken aborted) =>
        {
            await Task.Delay(ms, aborted);
            return Results.Text("slow answer", "text/plain; charset=utf-8");
        });
        app.MapMethods("/redirect", getAndHead, () => Results.Redirect("/ok"));
        await app.StartAsync();

        var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses;
        BaseAddress = new Uri(addresses.Single());
        _app = app;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        Certificate?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// A self-signed server certificate for <c>localhost</c> and <c>127.0.0.1</c> (ECDSA P-256), valid from
    /// a day ago until <paramref name="validFor"/> from now, re-imported from PFX so Kestrel can use its key.
    /// </summary>
    public static X509Certificate2 CreateSelfSignedCertificate(TimeSpan validFor)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication")], false));
        var now = DateTimeOffset.UtcNow;
        using var created = request.CreateSelfSigned(now.AddDays(-1), now + validFor);
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null);
    }

    /// <summary>
    /// A loopback port nothing listens on: bound by a <see cref="TcpListener"/> on port 0, then released.
    /// </summary>
    public static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}

/// <summary>An HTTPS <see cref="KestrelTarget"/> with a self-signed certificate valid for 30 days.</summary>
public sealed class HttpsKestrelTarget : KestrelTarget
{
    /// <summary>Days the certificate is valid from now.</summary>
    public const int CertificateDays = 30;

    /// <summary>Creates the target (start it with <see cref="KestrelTarget.InitializeAsync"/>).</summary>
    public HttpsKestrelTarget()
        : base(CreateSelfSignedCertificate(TimeSpan.FromDays(CertificateDays)))
    {
    }
}
