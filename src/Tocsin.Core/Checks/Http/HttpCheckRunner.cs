using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;

namespace Tocsin.Checks.Http;

/// <summary>
/// Runs <c>http</c> checks. Each run measures its phases the way blackbox_exporter reports them:
/// DNS, TCP connect, TLS handshake, time to first byte (response headers) and total, all in
/// milliseconds, plus body bytes and the server certificate's days to expiry.
/// By default every run uses a fresh connection so those phases are real.
/// </summary>
public sealed class HttpCheckRunner : ICheckRunner, IDisposable
{
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, PooledClient> _pooled = new(StringComparer.Ordinal);

    /// <summary>Creates the runner.</summary>
    public HttpCheckRunner(TimeProvider time) => _time = time;

    /// <inheritdoc />
    public async Task<RunOutcome> RunAsync(CheckDefinition check, CancellationToken cancellationToken)
    {
        var o = (HttpCheckOptions)check.Options;
        var probe = new ConnectionProbe(_time);
        HttpClient client;
        SocketsHttpHandler? ownHandler = null;
        if (o.ReuseConnections)
        {
            var pooled = _pooled.GetOrAdd(check.Name, _ => new PooledClient(o, _time));
            pooled.Probe = probe;
            client = pooled.Client;
        }
        else
        {
            ownHandler = CreateHandler(o, () => probe, _time);
            client = new HttpClient(ownHandler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        }

        try
        {
            return await RunCoreAsync(client, o, probe, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (ownHandler is not null)
            {
                client.Dispose();
                ownHandler.Dispose();
            }
        }
    }

    private async Task<RunOutcome> RunCoreAsync(HttpClient client, HttpCheckOptions o, ConnectionProbe probe, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(new HttpMethod(o.Method), o.Url);
        request.Headers.ConnectionClose = !o.ReuseConnections;
        request.Headers.UserAgent.ParseAdd("Tocsin/" + VersionInfo.Version);
        if (o.Body is not null)
        {
            request.Content = new StringContent(o.Body, Encoding.UTF8);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(
                o.Body.TrimStart().StartsWith('{') || o.Body.TrimStart().StartsWith('[') ? "application/json" : "text/plain; charset=utf-8");
        }

        foreach (var (name, value) in o.Headers)
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content ??= new ByteArrayContent([]);
                request.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        long start = _time.GetTimestamp();
        var details = new JsonObject();
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
            double ttfb = Elapsed(start);
            var (bodyBytes, matched) = await ReadBodyAsync(response, o, ct).ConfigureAwait(false);
            double total = Elapsed(start);

            int code = (int)response.StatusCode;
            probe.AddTo(details);
            details["ttfbMs"] = Round(ttfb);
            details["totalMs"] = Round(total);
            details["bodyBytes"] = bodyBytes;
            details["httpVersion"] = response.Version.ToString();
            if (matched is { } m)
            {
                details["regexMatched"] = m;
            }

            if (response.RequestMessage?.RequestUri is { } final && final != o.Url)
            {
                details["finalUrl"] = final.ToString();
            }

            return Judge(o, code, matched, total, probe.DaysToExpiry, details);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            probe.AddTo(details);
            return new RunOutcome(CheckState.CRITICAL, $"timed out after {Math.Round(Elapsed(start))} ms {probe.Phase}", null, details);
        }
        catch (HttpRequestException ex)
        {
            probe.AddTo(details);
            details["error"] = ex.HttpRequestError.ToString();
            return new RunOutcome(CheckState.CRITICAL, probe.Failure ?? Describe(ex, probe), null, details);
        }
    }

    private static RunOutcome Judge(HttpCheckOptions o, int code, bool? matched, double totalMs, double? daysToExpiry, JsonObject details)
    {
        var problems = new List<string>();
        bool statusOk = o.ExpectStatus is null ? code is >= 200 and < 400 : o.ExpectStatus.Contains(code);
        if (!statusOk)
        {
            problems.Add($"status {code}, expected {HttpCheckKind.DescribeExpectedStatus(o.ExpectStatus)}");
        }

        if (matched == false)
        {
            problems.Add($"body does not match /{o.BodyRegex}/");
        }

        if (problems.Count > 0)
        {
            return new RunOutcome(CheckState.CRITICAL, string.Join("; ", problems), code, details);
        }

        var warnings = new List<string>();
        if (o.MaxDuration is { } max && totalMs > max.TotalMilliseconds)
        {
            warnings.Add($"took {Math.Round(totalMs)} ms, more than expect.maxDuration {Configuration.Duration.Format(max)}");
        }

        if (o.TlsMinDaysToExpiry is { } minDays && daysToExpiry is { } days && days < minDays)
        {
            warnings.Add($"TLS certificate expires in {Math.Floor(days).ToString(CultureInfo.InvariantCulture)} days, fewer than tls.minDaysToExpiry {minDays}");
        }

        return warnings.Count > 0
            ? new RunOutcome(CheckState.WARNING, string.Join("; ", warnings), code, details)
            : new RunOutcome(CheckState.OK, $"status {code} in {Math.Round(totalMs)} ms", code, details);
    }

    private static async Task<(long Bytes, bool? Matched)> ReadBodyAsync(HttpResponseMessage response, HttpCheckOptions o, CancellationToken ct)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(16 * 1024);
        MemoryStream? kept = o.BodyRegex is null ? null : new MemoryStream();
        long total = 0;
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
            {
                if (kept is not null && kept.Length < o.MaxBodyBytes)
                {
                    kept.Write(buffer, 0, (int)Math.Min(n, o.MaxBodyBytes - kept.Length));
                }

                total += n;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        if (kept is null)
        {
            return (total, null);
        }

        using (kept)
        {
            Encoding encoding = Encoding.UTF8;
            string? charset = response.Content.Headers.ContentType?.CharSet;
            if (!string.IsNullOrEmpty(charset))
            {
                try
                {
                    encoding = Encoding.GetEncoding(charset.Trim('"'));
                }
                catch (ArgumentException)
                {
                    // Unknown charset: UTF-8 is the best guess.
                }
            }

            string text = encoding.GetString(kept.GetBuffer(), 0, (int)kept.Length);
            try
            {
                return (total, o.BodyRegex!.IsMatch(text));
            }
            catch (System.Text.RegularExpressions.RegexMatchTimeoutException)
            {
                return (total, false);
            }
        }
    }

    private static string Describe(HttpRequestException ex, ConnectionProbe probe)
    {
        if (probe.CertificateErrors is { } errors && errors != SslPolicyErrors.None)
        {
            return $"TLS certificate not accepted ({errors}); set tls.skipVerify to accept it";
        }

        Exception inner = ex;
        while (inner.InnerException is not null)
        {
            inner = inner.InnerException;
        }

        return inner switch
        {
            AuthenticationException a => $"TLS handshake failed: {a.Message}",
            SocketException s => $"connection failed: {s.SocketErrorCode}",
            _ => ex.Message,
        };
    }

    private double Elapsed(long start) => _time.GetElapsedTime(start).TotalMilliseconds;

    private static double Round(double ms) => Math.Round(ms, 3);

    private static SocketsHttpHandler CreateHandler(HttpCheckOptions o, Func<ConnectionProbe> probe, TimeProvider time)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = o.FollowRedirects,
            MaxAutomaticRedirections = Math.Max(1, o.MaxRedirects),
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.All,
            PooledConnectionLifetime = o.ReuseConnections ? TimeSpan.FromMinutes(5) : TimeSpan.Zero,
            ConnectTimeout = Timeout.InfiniteTimeSpan,
            ConnectCallback = (ctx, ct) => ConnectAsync(ctx, probe(), time, ct),
        };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, _, errors) =>
        {
            var p = probe();
            p.OnCertificate(cert, errors);
            return o.TlsSkipVerify || errors == SslPolicyErrors.None;
        };
        return handler;
    }

    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext ctx, ConnectionProbe probe, TimeProvider time, CancellationToken ct)
    {
        var endpoint = ctx.DnsEndPoint;
        probe.Phase = "resolving " + endpoint.Host;
        long t0 = time.GetTimestamp();
        IPAddress[] addresses;
        if (IPAddress.TryParse(endpoint.Host, out var ip))
        {
            addresses = [ip];
        }
        else
        {
            try
            {
                addresses = await Dns.GetHostAddressesAsync(endpoint.Host, ct).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                probe.Failure ??= $"DNS lookup of {endpoint.Host} failed: {ex.SocketErrorCode}";
                throw;
            }
        }

        probe.OnResolved(time.GetElapsedTime(t0).TotalMilliseconds, addresses.FirstOrDefault());
        probe.Phase = $"connecting to {endpoint.Host}:{endpoint.Port}";
        long t1 = time.GetTimestamp();
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, endpoint.Port, ct).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            probe.Failure ??= $"connect to {endpoint.Host}:{endpoint.Port} failed: {ex.SocketErrorCode}";
            throw;
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        probe.OnConnected(time.GetElapsedTime(t1).TotalMilliseconds, time.GetTimestamp());
        probe.Phase = ctx.InitialRequestMessage.RequestUri?.Scheme == "https" ? "in TLS handshake" : "waiting for response";
        return new NetworkStream(socket, ownsSocket: true);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var p in _pooled.Values)
        {
            p.Dispose();
        }

        _pooled.Clear();
    }

    private sealed class PooledClient : IDisposable
    {
        private readonly SocketsHttpHandler _handler;

        public PooledClient(HttpCheckOptions o, TimeProvider time)
        {
            _handler = CreateHandler(o, () => Probe, time);
            Client = new HttpClient(_handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        }

        public HttpClient Client { get; }

        // Runs of one check never overlap, so the current run's probe can live here.
        public ConnectionProbe Probe { get; set; } = new(TimeProvider.System);

        public void Dispose()
        {
            Client.Dispose();
            _handler.Dispose();
        }
    }

    /// <summary>Phase timings of the first connection a run opened.</summary>
    private sealed class ConnectionProbe(TimeProvider time)
    {
        private double? _dnsMs, _connectMs, _tlsMs;
        private long _connectedAt;
        private IPAddress? _address;
        private DateTimeOffset? _notAfter;

        public string Phase { get; set; } = "waiting for response";

        public string? Failure { get; set; }

        public SslPolicyErrors? CertificateErrors { get; private set; }

        public double? DaysToExpiry => _notAfter is { } na ? (na - time.GetUtcNow()).TotalDays : null;

        public void OnResolved(double ms, IPAddress? address)
        {
            _dnsMs ??= ms;
            _address ??= address;
        }

        public void OnConnected(double ms, long at)
        {
            if (_connectMs is null)
            {
                _connectMs = ms;
                _connectedAt = at;
            }
        }

        public void OnCertificate(X509Certificate? cert, SslPolicyErrors errors)
        {
            if (_tlsMs is not null)
            {
                return;
            }

            _tlsMs = _connectedAt == 0 ? null : time.GetElapsedTime(_connectedAt).TotalMilliseconds;
            CertificateErrors = errors;
            if (cert is X509Certificate2 c2)
            {
                _notAfter = new DateTimeOffset(c2.NotAfter.ToUniversalTime(), TimeSpan.Zero);
            }

            Phase = "waiting for response";
        }

        public void AddTo(JsonObject details)
        {
            if (_address is not null)
            {
                details["remoteAddress"] = _address.ToString();
            }

            if (_dnsMs is { } dns)
            {
                details["dnsMs"] = Round(dns);
            }

            if (_connectMs is { } connect)
            {
                details["connectMs"] = Round(connect);
            }

            if (_tlsMs is { } tls)
            {
                details["tlsMs"] = Round(tls);
            }

            if (DaysToExpiry is { } days)
            {
                details["tlsDaysToExpiry"] = Math.Round(days, 2);
                details["tlsNotAfter"] = _notAfter!.Value.ToString("O", CultureInfo.InvariantCulture);
            }

            if (CertificateErrors is { } e && e != SslPolicyErrors.None)
            {
                details["tlsErrors"] = e.ToString();
            }
        }
    }
}
