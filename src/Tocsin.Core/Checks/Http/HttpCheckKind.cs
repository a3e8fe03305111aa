using System.Globalization;
using System.Text.Json;
using Tocsin.Configuration;

namespace Tocsin.Checks.Http;

/// <summary>The <c>http</c> check kind: reads <see cref="HttpCheckOptions"/> and runs them with <see cref="HttpCheckRunner"/>.</summary>
public sealed class HttpCheckKind : ICheckKind
{
    /// <summary>The kind's name in configuration.</summary>
    public const string KindName = "http";

    /// <summary>Methods an http check may use.</summary>
    public static readonly IReadOnlyList<string> Methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

    /// <summary>Creates the kind with its runner.</summary>
    public HttpCheckKind(HttpCheckRunner runner) => Runner = runner;

    /// <inheritdoc />
    public string Name => KindName;

    /// <inheritdoc />
    public ICheckRunner Runner { get; }

    /// <inheritdoc />
    public string Describe(object options) => options is HttpCheckOptions o ? $"{o.Method} {o.Url}" : "";

    /// <summary>
    /// Upper-cases a method and checks it is allowed; seed 004's <c>OPTION</c> means OPTIONS when
    /// <paramref name="acceptSeed004Option"/>. Returns <see langword="null"/> when not allowed.
    /// </summary>
    public static string? NormalizeMethod(string method, bool acceptSeed004Option)
    {
        string m = method.Trim().ToUpperInvariant();
        if (acceptSeed004Option && m == "OPTION")
        {
            return "OPTIONS";
        }

        return Methods.Contains(m) ? m : null;
    }

    /// <summary>Checks <paramref name="url"/> is an absolute http(s) URL with a host; records an error otherwise.</summary>
    public static Uri? ValidateUrl(ConfigObjectReader r, string field, string url)
    {
        if (Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Host.Length > 0)
        {
            return uri;
        }

        r.Error(field, ConfigObjectReader.Quote(url), "must be an absolute http:// or https:// URL with a host");
        return null;
    }

    /// <inheritdoc />
    public object ReadOptions(ConfigObjectReader reader)
    {
        var r = reader;
        string? url = r.String("url", required: true);
        Uri? uri = url is null ? null : ValidateUrl(r, "url", url);
        string method = r.String("method") ?? "GET";
        string? normalized = NormalizeMethod(method, acceptSeed004Option: false);
        if (normalized is null)
        {
            r.Error("method", ConfigObjectReader.Quote(method), $"allowed: {string.Join(", ", Methods)}");
        }

        var headers = r.StringMap("headers") ?? new Dictionary<string, string>();
        string? body = null;
        if (r.Raw("body") is { } b)
        {
            body = b.ValueKind == JsonValueKind.String ? b.GetString() : b.GetRawText();
        }

        bool follow = r.Bool("followRedirects") ?? true;
        int maxRedirects = (int)(r.Integer("maxRedirects", 0, 50) ?? 10);
        bool reuse = r.Bool("reuseConnections") ?? false;
        int maxBody = (int)(r.Integer("maxBodyBytes", 0, 64L << 20) ?? 1 << 20);

        IReadOnlyList<int>? status = null;
        System.Text.RegularExpressions.Regex? regex = null;
        TimeSpan? maxDuration = null;
        var expect = r.Object("expect");
        if (expect is not null)
        {
            status = ReadStatusList(expect);
            regex = expect.Regex("bodyRegex");
            maxDuration = expect.Duration("maxDuration", TimeSpan.FromMilliseconds(1), ConfigLoader.MaxInterval);
            expect.RejectUnknownFields();
        }

        bool skipVerify = false;
        int? minDays = null;
        var tls = r.Object("tls");
        if (tls is not null)
        {
            skipVerify = tls.Bool("skipVerify") ?? false;
            minDays = (int?)tls.Integer("minDaysToExpiry", 0, 3650);
            tls.RejectUnknownFields();
        }

        return new HttpCheckOptions
        {
            Url = uri ?? new Uri("http://invalid.invalid/"),
            Method = normalized ?? "GET",
            Headers = headers,
            Body = body,
            FollowRedirects = follow,
            MaxRedirects = maxRedirects,
            ReuseConnections = reuse,
            MaxBodyBytes = maxBody,
            ExpectStatus = status,
            BodyRegex = regex,
            MaxDuration = maxDuration,
            TlsSkipVerify = skipVerify,
            TlsMinDaysToExpiry = minDays,
        };
    }

    private static List<int>? ReadStatusList(ConfigObjectReader expect)
    {
        var raw = expect.Raw("status");
        if (raw is null)
        {
            return null;
        }

        var list = new List<int>();
        var items = raw.Value.ValueKind == JsonValueKind.Array ? raw.Value.EnumerateArray().ToList() : [raw.Value];
        foreach (var e in items)
        {
            if (e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int code) && code is >= 100 and <= 599)
            {
                list.Add(code);
            }
            else
            {
                expect.Error("status", e.GetRawText(), "must be an HTTP status code from 100 to 599, or an array of them");
                return null;
            }
        }

        if (list.Count == 0)
        {
            expect.Error("status", "[]", "must list at least one status code");
            return null;
        }

        return list;
    }

    /// <summary>Formats accepted status codes for messages: <c>200</c>, <c>200, 204</c> or <c>200–399</c>.</summary>
    public static string DescribeExpectedStatus(IReadOnlyList<int>? status) =>
        status is null ? "200–399" : string.Join(", ", status.Select(s => s.ToString(CultureInfo.InvariantCulture)));
}
