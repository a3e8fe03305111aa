using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Tocsin.Configuration;

namespace Tocsin.Alerting.Channels;

/// <summary>
/// What the HTTP channels share: sending one request, turning failures into <see cref="NotificationDeliveryException"/>
/// (transient: network errors, timeouts, HTTP 408, 429 and 5xx; permanent: other 3xx/4xx), and printing URLs without
/// what may be secret in them.
/// </summary>
internal static class HttpDelivery
{
    /// <summary>Most bytes of an answer read to quote it in an error.</summary>
    private const int MaxAnswerBytes = 4096;

    /// <summary>Most characters of an answer quoted in an error.</summary>
    private const int MaxQuotedChars = 200;

    /// <summary>
    /// The URL without user info, query or fragment, and with only its first path segment, when more follow:
    /// <c>https://hooks.example.org/notify/…</c>; a single segment is hidden too (<c>https://hooks.example.org/…</c>),
    /// as it may be a token.
    /// </summary>
    public static string Redact(Uri url)
    {
        string origin = url.GetLeftPart(UriPartial.Authority);
        if (url.UserInfo.Length > 0)
        {
            origin = $"{url.Scheme}://{url.Authority}";
        }

        string[] segments = url.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return segments.Length switch
        {
            0 => origin + "/",
            1 => origin + "/…",
            _ => $"{origin}/{segments[0]}/…",
        };
    }

    /// <summary>The URL's origin only, for URLs that are secrets as a whole: <c>https://hooks.slack.com/…</c>.</summary>
    public static string Origin(Uri url) => $"{url.Scheme}://{url.Authority}/…";

    /// <summary>
    /// Sends <paramref name="request"/>; returns the response whatever its status.
    /// </summary>
    /// <param name="http">The shared client.</param>
    /// <param name="request">The request (disposed by the caller).</param>
    /// <param name="who">Who sends, for messages, e.g. <c>webhook "ops"</c>.</param>
    /// <param name="target">Where, already redacted.</param>
    /// <param name="scrubber">Hides the channel's secrets from the messages.</param>
    /// <param name="cancellationToken">Cancels the delivery.</param>
    /// <exception cref="NotificationDeliveryException">Transient, when the server cannot be reached or the client timed out.</exception>
    /// <exception cref="OperationCanceledException">When <paramref name="cancellationToken"/> is cancelled.</exception>
    public static async Task<HttpResponseMessage> SendAsync(
        HttpClient http, HttpRequestMessage request, string who, string target, SecretScrubber scrubber, CancellationToken cancellationToken)
    {
        try
        {
            return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new NotificationDeliveryException(scrubber.Scrub($"{who}: cannot reach {target}: {Describe(ex)}"), permanent: false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new NotificationDeliveryException($"{who}: {target} did not answer in time (HTTP client timeout)", permanent: false);
        }
    }

    /// <summary>
    /// Sends <paramref name="request"/> (see <see cref="SendAsync"/>) and returns when the answer is 2xx; any other answer
    /// becomes <see cref="StatusFailure"/> (transient for 408, 429 and 5xx, else permanent).
    /// </summary>
    /// <exception cref="NotificationDeliveryException">When the server cannot be reached or did not answer 2xx.</exception>
    /// <exception cref="OperationCanceledException">When <paramref name="cancellationToken"/> is cancelled.</exception>
    public static async Task PostExpectingSuccessAsync(
        HttpClient http, HttpRequestMessage request, string who, string target, SecretScrubber scrubber, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(http, request, who, target, scrubber, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            string answer = await ReadAnswerAsync(response, cancellationToken).ConfigureAwait(false);
            throw StatusFailure(who, target, response, answer, scrubber);
        }
    }

    /// <summary>Whether retrying a request that got <paramref name="status"/> may help: 408, 429 and 5xx.</summary>
    public static bool IsTransient(HttpStatusCode status) => status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests || (int)status >= 500;

    /// <summary>
    /// The failure for a non-2xx answer: transient for 408/429/5xx, permanent otherwise, e.g.
    /// <c>webhook "ops": https://hooks.example.org/… answered HTTP 503 Service Unavailable: "busy"</c>.
    /// </summary>
    public static NotificationDeliveryException StatusFailure(string who, string target, HttpResponseMessage response, string answer, SecretScrubber scrubber)
    {
        int code = (int)response.StatusCode;
        string reason = string.IsNullOrEmpty(response.ReasonPhrase) ? "" : " " + response.ReasonPhrase;
        string quoted = answer.Length > 0 ? ": " + Quote(answer) : "";
        string hint = code switch
        {
            401 or 403 => " (credentials refused)",
            >= 300 and < 400 => " (redirects are not followed; configure the final address)",
            _ => "",
        };
        return new NotificationDeliveryException(
            scrubber.Scrub($"{who}: {target} answered HTTP {code}{reason}{hint}{quoted}"), permanent: !IsTransient(response.StatusCode));
    }

    /// <summary>Reads at most 4 KiB of the answer as UTF-8 (for error messages and small JSON replies).</summary>
    public static async Task<string> ReadAnswerAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                byte[] buffer = new byte[MaxAnswerBytes];
                int total = 0;
                int read;
                while (total < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false)) > 0)
                {
                    total += read;
                }

                return Encoding.UTF8.GetString(buffer, 0, total);
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return "";
        }
    }

    /// <summary>An answer as one quoted line of at most 200 characters.</summary>
    public static string Quote(string answer)
    {
        string line = answer.ReplaceLineEndings(" ").Trim();
        if (line.Length > MaxQuotedChars)
        {
            line = line[..(MaxQuotedChars - 1)] + "…";
        }

        return ConfigObjectReader.Quote(line);
    }

    /// <summary>
    /// Why a request failed, from the error kind and the socket or TLS error only: the exception's own message is not
    /// used, as it may hold the request's URL.
    /// </summary>
    public static string Describe(HttpRequestException ex)
    {
        string kind = ex.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError => "name resolution failed",
            HttpRequestError.ConnectionError => "connection failed",
            HttpRequestError.SecureConnectionError => "TLS handshake failed",
            HttpRequestError.HttpProtocolError => "HTTP protocol error",
            HttpRequestError.ResponseEnded => "the server closed the connection before answering",
            HttpRequestError.ProxyTunnelError => "proxy tunnel failed",
            HttpRequestError.ConfigurationLimitExceeded => "a client limit was exceeded",
            HttpRequestError.InvalidResponse => "invalid HTTP response",
            _ => "request failed",
        };
        for (Exception? inner = ex.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException socket)
            {
                return $"{kind} ({socket.SocketErrorCode})";
            }

            if (inner is AuthenticationException tls)
            {
                return $"{kind} ({tls.Message})";
            }
        }

        return kind;
    }
}

/// <summary>Replaces a channel's secret values with <see cref="Secrets.Mask"/> in text bound for a log or an exception.</summary>
internal sealed class SecretScrubber
{
    private readonly string[] _secrets;

    /// <summary>Creates a scrubber for the given values; null and values shorter than 4 characters are ignored.</summary>
    public SecretScrubber(IEnumerable<string?> secrets) =>
        _secrets = [.. secrets.OfType<string>().Where(s => s.Length >= 4).Distinct(StringComparer.Ordinal).OrderByDescending(s => s.Length)];

    /// <summary>
    /// The parts of a URL that is itself a secret (a Slack or Rocket.Chat incoming-webhook URL): the whole URL as written and
    /// normalised, its path and query, and each path segment after the first (where such URLs carry their tokens).
    /// </summary>
    public static IEnumerable<string> UrlParts(Uri url) =>
        [url.OriginalString, url.AbsoluteUri, url.PathAndQuery, .. url.Segments.Skip(2).Select(s => s.Trim('/'))];

    /// <summary>The query string of <paramref name="url"/>, whole and each parameter's value (raw and unescaped).</summary>
    public static IEnumerable<string> QueryValues(Uri url)
    {
        string query = url.Query.TrimStart('?');
        yield return query;
        foreach (string pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            string value = eq < 0 ? pair : pair[(eq + 1)..];
            yield return value;
            yield return Uri.UnescapeDataString(value);
        }
    }

    /// <summary>A value and its space-separated parts of 8 characters or more (the token of <c>Bearer &lt;token&gt;</c>).</summary>
    public static IEnumerable<string> WithParts(string value) =>
        [value, .. value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(p => p.Length >= 8)];

    /// <summary>A scrubber that changes nothing.</summary>
    public static SecretScrubber None { get; } = new([]);

    /// <summary>The text with every secret value (as written or URL-escaped) replaced with <c>***</c>.</summary>
    public string Scrub(string text)
    {
        foreach (string s in _secrets)
        {
            text = text.Replace(s, Secrets.Mask, StringComparison.Ordinal);
            string escaped = Uri.EscapeDataString(s);
            if (escaped != s)
            {
                text = text.Replace(escaped, Secrets.Mask, StringComparison.Ordinal);
            }
        }

        return text;
    }
}
