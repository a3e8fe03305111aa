using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Tocsin.RocketChatEmulator.Api;

/// <summary>What an API module of one instance uses: the instance and the shared state, plus Rocket.Chat's reply shapes.</summary>
internal sealed class EmulatorApiContext(RocketChatInstance instance, RocketChatState state)
{
    /// <summary>What Rocket.Chat answers, with HTTP 401, to a REST call without valid <c>X-User-Id</c>/<c>X-Auth-Token</c>
    /// (the shape its own end-to-end tests expect: <c>status</c> and <c>message</c>; <c>success</c> and <c>error</c> added as in
    /// its other failures, so clients reading either form see the refusal).</summary>
    public const string NotLoggedIn = "You must be logged in to do this.";

    public RocketChatInstance Instance { get; } = instance;

    public RocketChatState State { get; } = state;

    /// <summary>The caller authenticated by <c>X-User-Id</c> and <c>X-Auth-Token</c>, or null.</summary>
    public RocketChatUser? Caller(HttpContext http) =>
        State.Authenticate(http.Request.Headers["X-User-Id"].ToString(), http.Request.Headers["X-Auth-Token"].ToString());

    /// <summary>401 as Rocket.Chat sends it for a missing or wrong token.</summary>
    public static IResult Unauthorized() =>
        Results.Json(new JsonObject { ["success"] = false, ["status"] = "error", ["message"] = NotLoggedIn, ["error"] = NotLoggedIn }, statusCode: 401);

    /// <summary>A failure reply, HTTP 400 by default: <c>{"success":false,"error":…,"errorType"?:…}</c>.</summary>
    public static IResult Failure(string error, string? errorType = null, int status = 400)
    {
        var body = new JsonObject { ["success"] = false, ["error"] = error };
        if (errorType is not null)
        {
            body["errorType"] = errorType;
        }

        return Results.Json(body, statusCode: status);
    }

    /// <summary>Reads the body as a JSON object, or null when it is not one.</summary>
    public static async Task<JsonObject?> ReadObjectAsync(HttpRequest request)
    {
        try
        {
            return await JsonNode.ParseAsync(request.Body, cancellationToken: request.HttpContext.RequestAborted).ConfigureAwait(false) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>A message as Rocket.Chat returns it (<c>IMessage</c>, main fields).</summary>
    public static JsonObject MessageJson(RecordedMessage m, string? alias = null)
    {
        string ts = m.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var json = new JsonObject
        {
            ["_id"] = m.Id,
            ["rid"] = m.RoomId,
            ["msg"] = m.Text,
            ["ts"] = ts,
            ["u"] = new JsonObject { ["_id"] = m.UserId, ["username"] = m.Username, ["name"] = m.Username },
            ["_updatedAt"] = ts,
            ["urls"] = new JsonArray(),
            ["mentions"] = new JsonArray(),
            ["channels"] = new JsonArray(),
        };
        if (alias is not null)
        {
            json["alias"] = alias;
        }

        return json;
    }
}
