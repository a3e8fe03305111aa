using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Tocsin.RocketChatEmulator.Api;

/// <summary>
/// <c>GET /api/v1/instances.get</c> (personal access token required): every instance of the emulated cluster, then the phantom
/// ones, as <c>{"instances":[{"address","currentStatus":{"connected","lastHeartbeatTime","local"},"instanceRecord":{"_id","name",
/// "pid","_createdAt","_updatedAt","extraInformation":{"host","port","tcpPort","os","nodeVersion","conns"}},"broadcastAuth":true}],
/// "success":true}</c>. <c>port</c> is a string, <c>lastHeartbeatTime</c> milliseconds since the epoch, <c>local</c> true only for
/// the instance answering; a down instance is <c>connected:false</c> with its last heartbeat frozen.
/// </summary>
internal static class InstancesApi
{
    private const string NodeVersion = "v20.18.0";

    public static void Map(IEndpointRouteBuilder app, EmulatorApiContext api) =>
        app.MapGet("/api/v1/instances.get", (HttpContext http) =>
        {
            if (api.Caller(http) is null)
            {
                return EmulatorApiContext.Unauthorized();
            }

            var instances = new JsonArray();
            foreach (var instance in api.State.Cluster)
            {
                instances.Add(Entry(instance.Id, "127.0.0.1", instance.BaseAddress.Port, !instance.IsDown, instance.LastHeartbeat,
                    ReferenceEquals(instance, api.Instance), instance.CreatedAt));
            }

            foreach (var phantom in api.State.PhantomInstances)
            {
                var now = api.State.Time.GetUtcNow();
                instances.Add(Entry(phantom.Id, phantom.Address, phantom.Port, phantom.Connected, phantom.LastHeartbeat ?? now, false, now));
            }

            return Results.Json(new JsonObject { ["instances"] = instances, ["success"] = true });
        });

    private static JsonObject Entry(string id, string address, int port, bool connected, DateTimeOffset heartbeat, bool local, DateTimeOffset createdAt)
    {
        string created = createdAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        string updated = heartbeat.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        return new JsonObject
        {
            ["address"] = address,
            ["currentStatus"] = new JsonObject
            {
                ["connected"] = connected,
                ["lastHeartbeatTime"] = heartbeat.ToUnixTimeMilliseconds(),
                ["local"] = local,
            },
            ["instanceRecord"] = new JsonObject
            {
                ["_id"] = id,
                ["name"] = "rocket.chat",
                ["pid"] = Environment.ProcessId,
                ["_createdAt"] = created,
                ["_updatedAt"] = updated,
                ["extraInformation"] = new JsonObject
                {
                    ["host"] = address,
                    ["port"] = port.ToString(CultureInfo.InvariantCulture),
                    ["tcpPort"] = port,
                    ["os"] = new JsonObject { ["type"] = "Linux", ["platform"] = "linux", ["arch"] = "x64" },
                    ["nodeVersion"] = NodeVersion,
                    ["conns"] = 0,
                },
            },
            ["broadcastAuth"] = true,
        };
    }
}
