using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tocsin.IntegrationTests.Fixtures;

/// <summary>Writes Tocsin-format configuration files for a test agent.</summary>
public static class AgentConfig
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>An http check.</summary>
    public static JsonObject Http(string name, string url, string interval = "1s", string? timeout = null)
    {
        var check = new JsonObject { ["name"] = name, ["kind"] = "http", ["url"] = url, ["interval"] = interval };
        if (timeout is not null)
        {
            check["timeout"] = timeout;
        }

        return check;
    }

    /// <summary>A tcp check of a port on 127.0.0.1.</summary>
    public static JsonObject Tcp(string name, int port, string interval = "1s") =>
        new() { ["name"] = name, ["kind"] = "tcp", ["host"] = "127.0.0.1", ["port"] = port, ["interval"] = interval };

    /// <summary>
    /// Writes <c>config.json</c> in <paramref name="folder"/> with the outbox at <c>outbox.db</c> there and the
    /// web server on a port the OS picks; returns the config's path.
    /// </summary>
    public static string Write(TempFolder folder, params JsonObject[] checks)
    {
        var root = new JsonObject
        {
            ["localDatabasePath"] = OutboxPath(folder),
            ["web"] = new JsonObject { ["urls"] = "http://127.0.0.1:0" },
            ["checks"] = new JsonArray([.. checks]),
        };
        return folder.Write("config.json", root.ToJsonString(Indented));
    }

    /// <summary>Changes the configuration file at <paramref name="path"/> in place.</summary>
    public static void Edit(string path, Action<JsonObject> edit)
    {
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(root);
        File.WriteAllText(path, root.ToJsonString(Indented));
    }

    /// <summary>Where <see cref="Write"/> puts the outbox.</summary>
    public static string OutboxPath(TempFolder folder) => folder.File("outbox.db");
}
