using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json.Serialization;
using System.Xml.Linq;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tocsin.Access;
using Tocsin.Configuration;

namespace Tocsin.Web;

/// <summary>
/// Access to the web interface. Read endpoints are open. When <c>web.auth</c> configures tokens or users, the
/// endpoints that carry the <see cref="WritePolicy"/> (write endpoints and the <c>/private</c> area) need
/// <c>Authorization: Bearer &lt;token&gt;</c> (compared by SHA-256 in constant time) or HTTP Basic with a
/// configured user; missing or wrong credentials get 401 with <c>WWW-Authenticate: Bearer realm="tocsin"</c> and
/// <c>Basic realm="tocsin", charset="UTF-8"</c> and an empty body. When none is configured, the policy lets
/// everyone through and <see cref="LogAccessAtStart"/> warns if the server listens beyond loopback.
/// Cross-site form posts to write endpoints are refused by <see cref="CrossOriginProtection"/> (not by antiforgery tokens,
/// which are bound to the signed-in user: a page read anonymously could never post after the browser's Basic prompt).
/// Antiforgery services and middleware stay registered, with in-memory keys, for anything that asks for them.
/// </summary>
public static partial class AuthSetup
{
    /// <summary>The authentication scheme handling both Bearer and Basic.</summary>
    public const string Scheme = "Tocsin";

    /// <summary>
    /// The authorization policy of write endpoints (e.g. <c>POST /api/v1/checks/{name}/run</c>) and the private area:
    /// an authenticated token or user when <c>web.auth</c> is configured, anyone otherwise.
    /// </summary>
    public const string WritePolicy = "tocsin-write";

    /// <summary>The realm named in challenges.</summary>
    public const string Realm = "tocsin";

    /// <summary>Claim holding how the caller authenticated: <c>bearer</c> or <c>basic</c>.</summary>
    public const string MethodClaim = "tocsin:auth-method";

    /// <summary>Registers authentication (scheme <see cref="Scheme"/>), the <see cref="WritePolicy"/>, the <see cref="CredentialVerifier"/> and antiforgery.</summary>
    public static IServiceCollection AddTocsinAccess(this IServiceCollection services, WebAuthConfig auth)
    {
        ArgumentNullException.ThrowIfNull(auth);
        services.AddSingleton(sp => new CredentialVerifier(auth, sp.GetService<TimeProvider>() ?? TimeProvider.System));
        services.AddAuthentication(Scheme).AddScheme<AuthenticationSchemeOptions, TocsinAuthenticationHandler>(Scheme, null);
        services.AddAuthorizationBuilder().AddPolicy(WritePolicy, policy =>
        {
            policy.AddAuthenticationSchemes(Scheme);
            if (auth.IsConfigured)
            {
                policy.RequireAuthenticatedUser();
            }
            else
            {
                policy.RequireAssertion(_ => true);
            }
        });
        // Antiforgery tokens for the dashboard's forms. Their keys live in memory only (a restart only asks to reload
        // a form): nothing is written under ~/.aspnet, and with no key file there is nothing to encrypt (hence the
        // null encryptor, which also keeps the "key may be persisted unencrypted" warning out of the log).
        services.AddDataProtection();
        services.Configure<KeyManagementOptions>(o =>
        {
            o.XmlRepository = new MemoryXmlRepository();
            o.XmlEncryptor = new NullXmlEncryptor();
        });
        services.AddAntiforgery();
        // The handler's own lines ("was not authenticated", "was challenged") at every anonymous request are noise.
        services.AddLogging(b => b.AddFilter(typeof(TocsinAuthenticationHandler).FullName, LogLevel.Warning));
        return services;
    }

    /// <summary>Adds the authentication, authorization and antiforgery middleware (after routing, before the endpoints).</summary>
    public static WebApplication UseTocsinAccess(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        return app;
    }

    /// <summary>
    /// Maps the private area under <c>/private</c>, behind <see cref="WritePolicy"/>: <c>GET /private/whoami</c> answers
    /// <c>{"name": "ops"|null, "method": "bearer"|"basic"|null, "authConfigured": bool}</c>; <c>GET /private/&lt;check&gt;/…</c>
    /// serves the paths of the check's promise <c>private-path-list</c> (<see cref="PromiseFiles"/>). Needs the <see cref="Tocsin.Checks.CheckCatalog"/> in services.
    /// </summary>
    public static IEndpointRouteBuilder MapTocsinPrivate(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/private").RequireAuthorization(WritePolicy);
        group.MapGet("/whoami", (HttpContext context, CredentialVerifier verifier) => TypedResults.Ok(new WhoAmIView(
            context.User.Identity?.IsAuthenticated == true ? context.User.Identity.Name : null,
            context.User.FindFirst(MethodClaim)?.Value,
            verifier.IsConfigured)));
        // /private/<check>/…: a path the check's promise lists in private-path-list (the literal /private/whoami wins over this).
        group.MapGet("/{**path}", (HttpContext context, Tocsin.Checks.CheckCatalog catalog) =>
            PromiseFiles.Serve(context, catalog, isPrivate: true, PromiseFiles.RawPathAfter(context, "/private/")));
        return endpoints;
    }

    /// <summary>
    /// Logs how access is set at start: a Warning when no credentials are configured and <paramref name="urls"/>
    /// (<c>;</c>-separated) name an address beyond loopback (anyone who reaches it may use the write endpoints);
    /// an Information line with the counts of tokens and users otherwise. No credential is logged.
    /// </summary>
    public static void LogAccessAtStart(ILogger logger, string urls, WebAuthConfig auth)
    {
        ArgumentNullException.ThrowIfNull(auth);
        var open = NonLoopback(urls);
        if (!auth.IsConfigured && open.Count > 0)
        {
            LogOpen(logger, string.Join(";", open));
        }
        else if (auth.IsConfigured)
        {
            LogConfigured(logger, auth.Tokens.Count, auth.Users.Count);
        }
    }

    /// <summary>The URLs of <paramref name="urls"/> whose host is not a loopback address or <c>localhost</c> (wildcards included).</summary>
    public static IReadOnlyList<string> NonLoopback(string urls)
    {
        ArgumentNullException.ThrowIfNull(urls);
        var list = new List<string>();
        foreach (string u in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string probe = u.Replace("://*", "://wildcard.invalid", StringComparison.Ordinal).Replace("://+", "://wildcard.invalid", StringComparison.Ordinal);
            bool loopback = Uri.TryCreate(probe, UriKind.Absolute, out var uri)
                && (uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip)));
            if (!loopback)
            {
                list.Add(u);
            }
        }

        return list;
    }

    /// <summary>Data protection keys kept in this process only.</summary>
    private sealed class MemoryXmlRepository : IXmlRepository
    {
        private readonly List<XElement> _elements = [];
        private readonly Lock _lock = new();

        public IReadOnlyCollection<XElement> GetAllElements()
        {
            lock (_lock)
            {
                return [.. _elements.Select(e => new XElement(e))];
            }
        }

        public void StoreElement(XElement element, string friendlyName)
        {
            lock (_lock)
            {
                _elements.Add(new XElement(element));
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The web server listens beyond loopback ({Urls}) and web.auth configures no token or user: anyone who reaches it may use the write endpoints and the private area. Add credentials with `tocsin auth hash`")]
    private static partial void LogOpen(ILogger logger, string urls);

    [LoggerMessage(Level = LogLevel.Information, Message = "Write endpoints and the private area need credentials: {Tokens} token(s), {Users} user(s) configured")]
    private static partial void LogConfigured(ILogger logger, int tokens, int users);
}

/// <summary>The <c>/private/whoami</c> answer.</summary>
/// <param name="Name">The token's or user's name, or null when not authenticated (no auth configured).</param>
/// <param name="Method"><c>bearer</c>, <c>basic</c> or null.</param>
/// <param name="AuthConfigured">Whether <c>web.auth</c> configures any credential.</param>
public sealed record WhoAmIView(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("method")] string? Method,
    [property: JsonPropertyName("authConfigured")] bool AuthConfigured);

/// <summary>
/// Checks credentials against <c>web.auth</c>. Tokens: SHA-256 of the presented token compared with every
/// configured hash in constant time. Users: PBKDF2 (<see cref="PasswordHash"/>, ~0.1–0.5 s per check), so at
/// most <see cref="MaxConcurrentHashes"/> run at once, an unknown user costs the same as a known one, and a
/// success is remembered for <see cref="SuccessCacheDuration"/> under an HMAC of name and password with a key
/// made at start (never the password itself), so a client sending Basic on every request pays once.
/// </summary>
public sealed class CredentialVerifier : IDisposable
{
    /// <summary>PBKDF2 computations allowed at once.</summary>
    public const int MaxConcurrentHashes = 2;

    /// <summary>How long a verified user's credentials are remembered. <value>5 minutes.</value></summary>
    public static readonly TimeSpan SuccessCacheDuration = TimeSpan.FromMinutes(5);

    private const int MaxCacheEntries = 1024;

    private readonly WebAuthConfig _auth;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _hashing = new(MaxConcurrentHashes, MaxConcurrentHashes);
    private readonly byte[] _cacheKey = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _verified = new(StringComparer.Ordinal);
    private readonly PasswordHash _decoy = PasswordHash.TryParse(PasswordHash.Create(Convert.ToBase64String(RandomNumberGenerator.GetBytes(16))), out _)!;

    /// <summary>Creates the verifier for <paramref name="auth"/>.</summary>
    public CredentialVerifier(WebAuthConfig auth, TimeProvider time)
    {
        _auth = auth;
        _time = time;
    }

    /// <summary>Whether any credential is configured.</summary>
    public bool IsConfigured => _auth.IsConfigured;

    /// <summary>The name of the configured token equal to <paramref name="token"/>, or null.</summary>
    public string? VerifyToken(string token)
    {
        byte[] presented = AccessTokens.Sha256(token);
        string? found = null;
        foreach (var t in _auth.Tokens)
        {
            // Every hash is compared, in constant time each, so the time says nothing about which matched.
            if (CryptographicOperations.FixedTimeEquals(presented, t.Sha256))
            {
                found ??= t.Name;
            }
        }

        return found;
    }

    /// <summary>Whether <paramref name="name"/> is a configured user whose password is <paramref name="password"/>.</summary>
    public async ValueTask<bool> VerifyUserAsync(string name, string password, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(password);
        var now = _time.GetUtcNow();
        string key = Convert.ToHexString(HMACSHA256.HashData(_cacheKey, Encoding.UTF8.GetBytes(name + "\0" + password)));
        if (_verified.TryGetValue(key, out var until) && until > now)
        {
            return true;
        }

        var user = _auth.Users.FirstOrDefault(u => u.Name == name);
        await _hashing.WaitAsync(cancellationToken).ConfigureAwait(false);
        bool ok;
        try
        {
            ok = (user?.PasswordHash ?? _decoy).Verify(password) && user is not null;
        }
        finally
        {
            _hashing.Release();
        }

        if (ok)
        {
            if (_verified.Count >= MaxCacheEntries)
            {
                _verified.Clear();
            }

            _verified[key] = now + SuccessCacheDuration;
        }

        return ok;
    }

    /// <inheritdoc />
    public void Dispose() => _hashing.Dispose();
}

/// <summary>
/// The <see cref="AuthSetup.Scheme"/> handler: <c>Authorization: Bearer</c> or <c>Basic</c> checked by the
/// <see cref="CredentialVerifier"/>. No header → no result (anonymous); a wrong one → failure without detail;
/// challenges answer 401 with both <c>WWW-Authenticate</c> schemes. Credentials are never logged.
/// </summary>
public sealed class TocsinAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, CredentialVerifier verifier)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    /// <inheritdoc />
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!verifier.IsConfigured || !AuthenticationHeaderValue.TryParse(Request.Headers.Authorization.ToString(), out var header))
        {
            return AuthenticateResult.NoResult();
        }

        string? name = null;
        string method;
        if (string.Equals(header.Scheme, "Bearer", StringComparison.OrdinalIgnoreCase) && !string.IsNullOrEmpty(header.Parameter))
        {
            method = "bearer";
            name = verifier.VerifyToken(header.Parameter);
        }
        else if (string.Equals(header.Scheme, "Basic", StringComparison.OrdinalIgnoreCase) && !string.IsNullOrEmpty(header.Parameter))
        {
            method = "basic";
            if (DecodeBasic(header.Parameter) is var (user, password)
                && await verifier.VerifyUserAsync(user, password, Context.RequestAborted).ConfigureAwait(false))
            {
                name = user;
            }
        }
        else
        {
            return AuthenticateResult.NoResult();
        }

        if (name is null)
        {
            return AuthenticateResult.Fail("invalid credentials");
        }

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, name), new Claim(AuthSetup.MethodClaim, method)], AuthSetup.Scheme);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), AuthSetup.Scheme));
    }

    /// <inheritdoc />
    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.Append("WWW-Authenticate", $"Bearer realm=\"{AuthSetup.Realm}\"");
        Response.Headers.Append("WWW-Authenticate", $"Basic realm=\"{AuthSetup.Realm}\", charset=\"UTF-8\"");
        return Task.CompletedTask;
    }

    private static (string User, string Password)? DecodeBasic(string parameter)
    {
        try
        {
            string text = Encoding.UTF8.GetString(Convert.FromBase64String(parameter));
            int colon = text.IndexOf(':', StringComparison.Ordinal);
            return colon < 0 ? null : (text[..colon], text[(colon + 1)..]);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
