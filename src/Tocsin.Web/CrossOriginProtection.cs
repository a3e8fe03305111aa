using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Tocsin.Web;

/// <summary>
/// Protection of write endpoints against cross-site request forgery, by the headers browsers add to every request:
/// <c>Sec-Fetch-Site</c> (Fetch Metadata) and, from browsers without it, <c>Origin</c>. A request is refused when
/// <c>Sec-Fetch-Site</c> is present and is not <c>same-origin</c> or <c>none</c> (typed in the address bar), or, without
/// it, when <c>Origin</c> is present and names another origin than the request's own (scheme, host and port) or is
/// <c>null</c>. Requests with neither header come from programs (curl, SlapOS tools, scripts), not from a page of
/// another site, and pass. Unlike antiforgery tokens this does not depend on who is signed in, so a dashboard page read
/// anonymously can post once the browser has asked for credentials (HTTP Basic), and a restart invalidates nothing.
/// </summary>
public static class CrossOriginProtection
{
    /// <summary>Why <paramref name="request"/> is refused, or null when it may go on.</summary>
    public static string? Refusal(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        string? site = request.Headers["Sec-Fetch-Site"];
        if (!string.IsNullOrEmpty(site))
        {
            return site is "same-origin" or "none"
                ? null
                : $"the request came from another site (Sec-Fetch-Site: {site}); only this server's own pages may post here";
        }

        string? origin = request.Headers.Origin;
        if (string.IsNullOrEmpty(origin))
        {
            return null;
        }

        if (Uri.TryCreate(origin, UriKind.Absolute, out var o)
            && string.Equals(o.Scheme, request.Scheme, StringComparison.OrdinalIgnoreCase)
            && string.Equals(o.Authority, HostAuthority(request), StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        return $"the request came from another origin (Origin: {origin}); only this server's own pages may post here";
    }

    /// <summary>
    /// Adds the check to <paramref name="builder"/>'s endpoints as an endpoint filter: a refused request gets 403 with an
    /// RFC 9457 problem body (<c>{"title": "cross-origin request refused", "detail": …}</c>) and the endpoint does not run.
    /// </summary>
    public static TBuilder RefuseCrossOrigin<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddEndpointFilter(async (context, next) =>
            Refusal(context.HttpContext.Request) is { } reason
                ? TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "cross-origin request refused", detail: reason)
                : await next(context).ConfigureAwait(false));
        return builder;
    }

    private static string HostAuthority(HttpRequest request)
    {
        var host = request.Host;
        if (host.Port is null)
        {
            return host.Host;
        }

        bool defaultPort = (request.IsHttps && host.Port == 443) || (!request.IsHttps && host.Port == 80);
        return defaultPort ? host.Host : host.Value!;
    }
}
