using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Tocsin.RocketChatEmulator.Api;

/// <summary><c>POST /hooks/{id}/{token}</c>: an incoming webhook integration; no other authentication than the token in the path.</summary>
internal static class HooksApi
{
    public static void Map(IEndpointRouteBuilder app, EmulatorApiContext api) =>
        app.MapPost("/hooks/{id}/{token}", async (string id, string token, HttpContext http) =>
        {
            if (api.State.FindHook(id, Uri.UnescapeDataString(token)) is not { } hook || api.State.FindUser(hook.UserId) is not { } poster)
            {
                return EmulatorApiContext.Failure("Invalid integration id or token provided.", status: 404);
            }

            var body = await EmulatorApiContext.ReadObjectAsync(http.Request).ConfigureAwait(false);
            if (body is null)
            {
                return EmulatorApiContext.Failure("Invalid JSON body");
            }

            string text = body["text"]?.GetValueKind() == JsonValueKind.String ? (string)body["text"]! : "";
            if (text.Length == 0 && body["attachments"] is null)
            {
                return EmulatorApiContext.Failure("No text or attachments");
            }

            api.State.Record(hook.RoomId, text, poster, api.Instance.Index, "hooks");
            return Results.Json(new JsonObject { ["success"] = true });
        });
}
