using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Tocsin.RocketChatEmulator.Api;

/// <summary>
/// <c>POST /api/v1/chat.sendMessage</c> and <c>POST /api/v1/chat.postMessage</c>, authenticated with a personal access token.
/// </summary>
internal static class ChatApi
{
    public static void Map(IEndpointRouteBuilder app, EmulatorApiContext api)
    {
        // {"message":{"rid":"GENERAL","msg":"text"}} → {"message":{…},"success":true}
        app.MapPost("/api/v1/chat.sendMessage", async (HttpContext http) =>
        {
            if (api.Caller(http) is not { } user)
            {
                return EmulatorApiContext.Unauthorized();
            }

            var body = await EmulatorApiContext.ReadObjectAsync(http.Request).ConfigureAwait(false);
            if (body?["message"] is not JsonObject message)
            {
                return EmulatorApiContext.Failure("must have required property 'message' [invalid-params]", "invalid-params");
            }

            if (message["rid"]?.GetValueKind() != System.Text.Json.JsonValueKind.String || (string?)message["rid"] is not { Length: > 0 } rid)
            {
                return EmulatorApiContext.Failure("The 'rid' property on the message object is missing.", "error-invalid-params");
            }

            if (api.State.FindRoom(rid) is null)
            {
                return EmulatorApiContext.Failure("error-not-allowed [error-not-allowed]", "error-not-allowed");
            }

            string text = message["msg"]?.GetValueKind() == System.Text.Json.JsonValueKind.String ? (string)message["msg"]! : "";
            var recorded = api.State.Record(rid, text, user, api.Instance.Index, "chat.sendMessage");
            return Results.Json(new JsonObject { ["message"] = EmulatorApiContext.MessageJson(recorded), ["success"] = true });
        });

        // {"channel":"#general"|"@user"|"GENERAL", "roomId"?: "GENERAL", "text":"…"} → {"ts":…,"channel":…,"message":{…},"success":true}
        app.MapPost("/api/v1/chat.postMessage", async (HttpContext http) =>
        {
            if (api.Caller(http) is not { } user)
            {
                return EmulatorApiContext.Unauthorized();
            }

            var body = await EmulatorApiContext.ReadObjectAsync(http.Request).ConfigureAwait(false);
            string? channel = body?["channel"]?.GetValueKind() == System.Text.Json.JsonValueKind.String ? (string?)body["channel"] : null;
            string? roomId = body?["roomId"]?.GetValueKind() == System.Text.Json.JsonValueKind.String ? (string?)body["roomId"] : null;
            if (channel is null && roomId is null)
            {
                return EmulatorApiContext.Failure("Body param \"roomId\" or \"channel\" is required [error-roomId-param-not-provided]", "error-roomId-param-not-provided");
            }

            RocketChatRoom? room = roomId is not null ? api.State.FindRoom(roomId) : Resolve(api.State, user, channel!);
            if (room is null)
            {
                return EmulatorApiContext.Failure("[invalid-channel]", "invalid-channel");
            }

            string text = body?["text"]?.GetValueKind() == System.Text.Json.JsonValueKind.String ? (string)body["text"]! : "";
            var recorded = api.State.Record(room.Id, text, user, api.Instance.Index, "chat.postMessage");
            return Results.Json(new JsonObject
            {
                ["ts"] = recorded.Time.ToUnixTimeMilliseconds(),
                ["channel"] = room.Type == "d" ? room.Id : room.Name,
                ["message"] = EmulatorApiContext.MessageJson(recorded),
                ["success"] = true,
            });
        });
    }

    /// <summary>Rocket.Chat's reading of <c>channel</c>: <c>#name</c> a channel by name, <c>@user</c> the direct room with that user, else a room id or name.</summary>
    private static RocketChatRoom? Resolve(RocketChatState state, RocketChatUser sender, string channel) => channel switch
    {
        ['#', .. var name] => state.FindRoomByName(name),
        ['@', .. var username] => state.FindUserByName(username) is { } other ? state.DirectRoom(sender, other) : null,
        _ => state.FindRoom(channel) ?? state.FindRoomByName(channel),
    };
}
