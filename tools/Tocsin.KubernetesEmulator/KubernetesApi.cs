using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Tocsin.KubernetesEmulator;

/// <summary>The routes of the emulated API server and its <c>Status</c> error bodies.</summary>
internal static class KubernetesApi
{
    /// <summary>Where the authenticated user's name is kept in <see cref="HttpContext.Items"/>.</summary>
    public const string UserItem = "k8s-user";

    public static void Map(IEndpointRouteBuilder app, KubernetesEmulator emulator)
    {
        app.MapGet("/version", () => Results.Json(new JsonObject
        {
            ["major"] = "1",
            ["minor"] = emulator.Version.Split('.') is [_, var minor, ..] ? minor : "31",
            ["gitVersion"] = emulator.Version,
            ["gitCommit"] = "0000000000000000000000000000000000000000",
            ["gitTreeState"] = "clean",
            ["buildDate"] = "2026-01-01T00:00:00Z",
            ["goVersion"] = "go1.22.10",
            ["compiler"] = "gc",
            ["platform"] = "linux/amd64",
        }));

        app.MapGet("/api", (HttpContext http) => Authenticated(http, emulator, _ => Results.Json(new JsonObject
        {
            ["kind"] = "APIVersions",
            ["versions"] = new JsonArray("v1"),
            ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject { ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = http.Request.Host.ToString() }),
        })));

        app.MapGet("/api/v1/pods", (HttpContext http) => Authenticated(http, emulator, account =>
            account.Can("list", null)
                ? List(http, emulator, null)
                : Forbidden($"pods is forbidden: User \"{account.User}\" cannot list resource \"pods\" in API group \"\" at the cluster scope", null)));

        app.MapGet("/api/v1/namespaces/{namespace}/pods", (HttpContext http, string @namespace) => Authenticated(http, emulator, account =>
            account.Can("list", @namespace)
                ? List(http, emulator, @namespace)
                : Forbidden($"pods is forbidden: User \"{account.User}\" cannot list resource \"pods\" in API group \"\" in the namespace \"{@namespace}\"", null)));

        app.MapGet("/api/v1/namespaces/{namespace}/pods/{name}", (HttpContext http, string @namespace, string name) => Authenticated(http, emulator, account =>
        {
            if (!account.Can("get", @namespace))
            {
                return Forbidden($"pods \"{name}\" is forbidden: User \"{account.User}\" cannot get resource \"pods\" in API group \"\" in the namespace \"{@namespace}\"", name);
            }

            var (pods, _) = emulator.Snapshot(@namespace);
            return pods.FirstOrDefault(p => p.Pod.Name == name) is { Pod: not null } found
                ? Results.Json(found.Pod.ToJson(found.Version, withKind: true))
                : Status(404, "NotFound", $"pods \"{name}\" not found", new JsonObject { ["name"] = name, ["kind"] = "pods" });
        }));

        app.MapFallback((HttpContext http) => Authenticated(http, emulator, _ =>
            Status(404, "NotFound", "the server could not find the requested resource", new JsonObject())));
    }

    private static IResult Authenticated(HttpContext http, KubernetesEmulator emulator, Func<KubernetesServiceAccount, IResult> handle)
    {
        string header = http.Request.Headers.Authorization.ToString();
        var account = header.StartsWith("Bearer ", StringComparison.Ordinal) ? emulator.Authenticate(header["Bearer ".Length..].Trim()) : null;
        if (account is null)
        {
            return Status(401, "Unauthorized", "Unauthorized", null);
        }

        http.Items[UserItem] = account.User;
        return handle(account);
    }

    private static IResult List(HttpContext http, KubernetesEmulator emulator, string? ns)
    {
        var query = http.Request.Query;
        if (query["watch"] is { Count: > 0 } watch && watch[0] is "true" or "1")
        {
            return Status(400, "BadRequest", "the emulator does not serve watches", null);
        }

        Func<IReadOnlyDictionary<string, string>, bool> labels;
        Func<KubernetesPod, bool> fields;
        try
        {
            labels = Selectors.ParseLabelSelector(query["labelSelector"].ToString());
            fields = Selectors.ParsePodFieldSelector(query["fieldSelector"].ToString());
        }
        catch (FormatException ex)
        {
            return Status(400, "BadRequest", ex.Message, null);
        }

        var (pods, version) = emulator.Snapshot(ns);
        return Results.Json(new JsonObject
        {
            ["kind"] = "PodList",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject { ["resourceVersion"] = version.ToString(CultureInfo.InvariantCulture) },
            ["items"] = new JsonArray([.. pods.Where(p => labels(p.Pod.Labels) && fields(p.Pod)).Select(p => (JsonNode)p.Pod.ToJson(p.Version, withKind: false))]),
        });
    }

    private static IResult Forbidden(string message, string? name)
    {
        var details = new JsonObject { ["kind"] = "pods" };
        if (name is not null)
        {
            details["name"] = name;
        }

        return Status(403, "Forbidden", message, details);
    }

    /// <summary>A <c>Status</c> failure body, as the API server sends with 4xx answers.</summary>
    private static IResult Status(int code, string reason, string message, JsonObject? details)
    {
        var body = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = message,
            ["reason"] = reason,
        };
        if (details is not null)
        {
            body["details"] = details;
        }

        body["code"] = code;
        return Results.Json(body, statusCode: code);
    }
}
