using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Tocsin.RocketChatEmulator.Api;

/// <summary>
/// The apps endpoints of one instance (each instance has its own app statuses), authenticated with a personal access token:
/// <c>GET /api/apps/installed</c>, <c>GET /api/apps/{id}/status</c> and <c>POST /api/apps/{id}/status</c>. Errors as Rocket.Chat's
/// apps REST API answers them: 404 <c>{"success":false,"error":"No App found by the id of: {id}"}</c>; 400
/// <c>Invalid status provided, it must be "status" field and a string.</c> for a missing status; 400 <c>Invalid status to
/// change an App to, must be manually disabled or enabled.</c> for any other target than those two (Apps-Engine's
/// <c>changeStatus</c> rule).
/// </summary>
internal static class AppsApi
{
    public static void Map(IEndpointRouteBuilder app, EmulatorApiContext api)
    {
        // → {"apps":[{"id","name","nameSlug","version","status",…}],"success":true}
        app.MapGet("/api/apps/installed", (HttpContext http) =>
        {
            if (api.Caller(http) is null)
            {
                return EmulatorApiContext.Unauthorized();
            }

            var apps = new JsonArray();
            foreach (var installed in api.Instance.ReadAppsForApi())
            {
                apps.Add(AppJson(installed));
            }

            return Results.Json(new JsonObject { ["apps"] = apps, ["success"] = true });
        });

        // → {"status":"manually_enabled","success":true}
        app.MapGet("/api/apps/{id}/status", (string id, HttpContext http) =>
        {
            if (api.Caller(http) is null)
            {
                return EmulatorApiContext.Unauthorized();
            }

            return api.Instance.AppStatus(id) is { } status
                ? Results.Json(new JsonObject { ["status"] = status, ["success"] = true })
                : NotFound(id);
        });

        // {"status":"manually_enabled"} → {"status":"manually_enabled","success":true}
        app.MapPost("/api/apps/{id}/status", async (string id, HttpContext http) =>
        {
            if (api.Caller(http) is null)
            {
                return EmulatorApiContext.Unauthorized();
            }

            var body = await EmulatorApiContext.ReadObjectAsync(http.Request).ConfigureAwait(false);
            if (body?["status"] is not JsonValue value || value.GetValueKind() != JsonValueKind.String || (string?)value is not { Length: > 0 } status)
            {
                return EmulatorApiContext.Failure("Invalid status provided, it must be \"status\" field and a string.");
            }

            if (api.Instance.AppStatus(id) is null)
            {
                return NotFound(id);
            }

            if (status is not (RocketChatAppStatus.ManuallyEnabled or RocketChatAppStatus.ManuallyDisabled))
            {
                return EmulatorApiContext.Failure("Invalid status to change an App to, must be manually disabled or enabled.");
            }

            var (failure, answer) = api.Instance.ChangeStatusForApi(id, status);
            return failure switch
            {
                _ when answer is null => NotFound(id),
                RocketChatStatusChangeFailure.Http500 => EmulatorApiContext.Failure("Internal server error", status: 500),
                RocketChatStatusChangeFailure.Refused => EmulatorApiContext.Failure($"The App {id} could not change its status to {status}."),
                _ => Results.Json(new JsonObject { ["status"] = answer, ["success"] = true }),
            };
        });
    }

    private static IResult NotFound(string id) => EmulatorApiContext.Failure($"No App found by the id of: {id}", status: 404);

    /// <summary>An installed app as <c>/api/apps/installed</c> lists it (the main fields of Rocket.Chat's app info).</summary>
    private static JsonObject AppJson(RocketChatInstalledApp installed)
    {
        var app = installed.App;
        return new JsonObject
        {
            ["id"] = app.Id,
            ["name"] = app.Name,
            ["nameSlug"] = app.Name.ToLowerInvariant().Replace(' ', '-'),
            ["version"] = app.Version,
            ["description"] = $"{app.Name} (emulated)",
            ["requiredApiVersion"] = "^1.19.0",
            ["author"] = new JsonObject { ["name"] = "Tocsin emulator", ["homepage"] = "https://example.org", ["support"] = "https://example.org" },
            ["classFile"] = "main.js",
            ["iconFile"] = "icon.png",
            ["implements"] = new JsonArray(),
            ["permissions"] = new JsonArray(),
            ["languages"] = new JsonObject(),
            ["private"] = true,
            ["migrated"] = false,
            ["status"] = installed.Status,
        };
    }
}
