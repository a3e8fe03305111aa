using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Tocsin.RocketChatEmulator.Api;

/// <summary><c>GET /api/info</c>: no authentication; <c>{"version":"6.13.0","success":true}</c> (seed 001's readiness probe).</summary>
internal static class InfoApi
{
    public static void Map(IEndpointRouteBuilder app, EmulatorApiContext api) =>
        app.MapGet("/api/info", () => Results.Json(new { version = api.Instance.Version, success = true }));
}
