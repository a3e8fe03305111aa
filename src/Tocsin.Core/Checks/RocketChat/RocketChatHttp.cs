using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Tocsin.Configuration;

namespace Tocsin.Checks.RocketChat;

/// <summary>The credentials of Rocket.Chat's REST API: <c>X-User-Id</c> and <c>X-Auth-Token</c> (a personal access token).</summary>
/// <param name="UserId">The user id.</param>
/// <param name="Pat">The personal access token. Secret: never logged or shown (<see cref="ToString"/> hides it).</param>
public sealed record RocketChatCredentials(string UserId, string Pat)
{
    /// <summary>The user id only.</summary>
    public override string ToString() => $"user {UserId}";
}

/// <summary>The Rocket.Chat server refused the credentials (HTTP 401 or 403).</summary>
public sealed class RocketChatAuthException : Exception
{
    /// <summary>Creates it with a fixed message (the credentials are never part of it).</summary>
    public RocketChatAuthException()
        : base("refused the user id and PAT (HTTP 401/403)")
    {
    }
}

/// <summary>A Rocket.Chat endpoint could not be read: unreachable, an HTTP error status, or an answer that is not the expected JSON.</summary>
public sealed class RocketChatFetchException : Exception
{
    /// <summary>Creates it; <paramref name="message"/> says what failed, never with a credential in it.</summary>
    public RocketChatFetchException(string message)
        : base(message)
    {
    }
}

/// <summary>
/// GETs and POSTs of the Rocket.Chat checks: adds the credentials' headers, maps 401/403 to <see cref="RocketChatAuthException"/>
/// and other failures to <see cref="RocketChatFetchException"/> with a short reason. One shared client: no redirect (a
/// redirect would carry the PAT elsewhere), 2 min connection lifetime, 5 s connect timeout; the caller's token bounds each call.
/// </summary>
internal static class RocketChatHttp
{
    /// <summary>The client shared by the Rocket.Chat check kinds.</summary>
    public static HttpClient Shared { get; } = new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        ConnectTimeout = TimeSpan.FromSeconds(5),
    })
    { Timeout = Timeout.InfiniteTimeSpan };

    /// <summary>A request with the JSON accept header and, when given, the credentials' headers.</summary>
    public static HttpRequestMessage Request(HttpMethod method, Uri url, RocketChatCredentials? credentials)
    {
        var request = new HttpRequestMessage(method, url);
        if (credentials is not null)
        {
            request.Headers.TryAddWithoutValidation("X-User-Id", credentials.UserId);
            request.Headers.TryAddWithoutValidation("X-Auth-Token", credentials.Pat);
        }

        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return request;
    }

    /// <summary>GETs <paramref name="url"/> and parses its JSON body.</summary>
    /// <exception cref="RocketChatAuthException">On HTTP 401 or 403.</exception>
    /// <exception cref="RocketChatFetchException">When unreachable, on another non-2xx status, or when the body is not JSON.</exception>
    /// <exception cref="OperationCanceledException">When <paramref name="ct"/> is cancelled.</exception>
    public static async Task<JsonDocument> GetJsonAsync(HttpClient http, Uri url, RocketChatCredentials? credentials, CancellationToken ct)
    {
        try
        {
            using var request = Request(HttpMethod.Get, url, credentials);
            using var response = await http.SendAsync(request, ct).ConfigureAwait(false);
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                throw new RocketChatAuthException();
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new RocketChatFetchException($"HTTP {(int)response.StatusCode}");
            }

            await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            return await JsonDocument.ParseAsync(body, default, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new RocketChatFetchException($"cannot reach ({ex.HttpRequestError})");
        }
        catch (JsonException)
        {
            throw new RocketChatFetchException("answered with invalid JSON");
        }
    }

    /// <summary>
    /// Runs <paramref name="call"/> with a deadline of its own (one instance's answer), so one slow instance cannot use up the
    /// check's whole timeout: past <paramref name="timeout"/> (measured on <paramref name="time"/>) it throws
    /// <see cref="RocketChatFetchException"/> "no answer within …"; <paramref name="ct"/>'s cancellation passes through.
    /// </summary>
    public static async Task<T> WithTimeoutAsync<T>(Func<CancellationToken, Task<T>> call, TimeSpan timeout, TimeProvider time, CancellationToken ct)
    {
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);
        try
        {
            return await call(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested && deadline.IsCancellationRequested)
        {
            throw new RocketChatFetchException($"no answer within {Duration.Format(timeout)}");
        }
    }

    /// <summary>A string property of <paramref name="e"/>, or null when absent or not a string.</summary>
    public static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
