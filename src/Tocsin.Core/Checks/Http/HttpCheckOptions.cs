using System.Text.RegularExpressions;

namespace Tocsin.Checks.Http;

/// <summary>
/// Options of an <c>http</c> check. Configuration:
/// <code>
/// { "name": "site", "kind": "http", "url": "https://example.org/", "method": "GET",
///   "headers": {"Accept": "text/html"}, "body": null, "followRedirects": true,
///   "expect": { "status": [200], "bodyRegex": "Example", "maxDuration": "2s" },
///   "tls": { "skipVerify": false, "minDaysToExpiry": 14 } }
/// </code>
/// </summary>
public sealed record HttpCheckOptions
{
    /// <summary>Absolute http or https URL.</summary>
    public required Uri Url { get; init; }

    /// <summary>GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS. <value>Default: GET.</value></summary>
    public string Method { get; init; } = "GET";

    /// <summary>Request headers. <value>Default: none.</value></summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>Request body, sent as UTF-8, or <see langword="null"/>.</summary>
    public string? Body { get; init; }

    /// <summary>Whether 3xx answers are followed. <value>Default: true.</value></summary>
    public bool FollowRedirects { get; init; } = true;

    /// <summary>Most redirects followed. <value>Default: 10.</value></summary>
    public int MaxRedirects { get; init; } = 10;

    /// <summary>
    /// Whether connections are kept between runs. <value>Default: false: a fresh connection per run, so
    /// DNS, connect and TLS times are measured every time.</value>
    /// </summary>
    public bool ReuseConnections { get; init; }

    /// <summary>Most body bytes read for <see cref="BodyRegex"/> matching. <value>Default: 1 MiB.</value></summary>
    public int MaxBodyBytes { get; init; } = 1 << 20;

    /// <summary>Accepted status codes; <see langword="null"/> accepts 200–399.</summary>
    public IReadOnlyList<int>? ExpectStatus { get; init; }

    /// <summary>Pattern the body must contain, or <see langword="null"/>.</summary>
    public Regex? BodyRegex { get; init; }

    /// <summary>A run slower than this is WARNING, or <see langword="null"/>.</summary>
    public TimeSpan? MaxDuration { get; init; }

    /// <summary>Accept any server certificate (self-signed, expired, wrong host). <value>Default: false.</value></summary>
    public bool TlsSkipVerify { get; init; }

    /// <summary>A certificate expiring in fewer days than this is WARNING, or <see langword="null"/>.</summary>
    public int? TlsMinDaysToExpiry { get; init; }
}
