using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Tocsin.Configuration;

namespace Tocsin.Checks.RocketChatApps;

/// <summary>
/// The settings of seed 000's apps monitor, as it reads them: <c>apps-monitor-config.json</c> in the working directory
/// (keys <c>userId</c>, <c>userPAT</c>, <c>serverURL</c>, <c>interval</c>, <c>alertRoom</c>, <c>appId</c>) over the environment
/// variables <c>USER_ID</c>, <c>USER_PAT</c>, <c>SERVER_URL</c>, <c>INTERVAL_MS</c>, <c>ALERT_ROOM</c>, <c>APP_ID</c>, <c>LOG_LEVEL</c>
/// (each key from the file when it has it, else from the variable).
/// </summary>
/// <param name="UserId">The user id, or null.</param>
/// <param name="Pat">The personal access token, or null. Secret: <see cref="ToString"/> hides it.</param>
/// <param name="PatFromEnvironment">Whether the PAT came from <c>USER_PAT</c> (an import then writes <c>"patEnv": "USER_PAT"</c>).</param>
/// <param name="ServerUrl">The server URL, or null.</param>
/// <param name="Interval">The interval (from milliseconds; values under 30000 ms are dropped with a warning), or null for 5 min.</param>
/// <param name="AlertRoom">The alert room id, or null.</param>
/// <param name="AppId">The one app to watch, or null for all.</param>
/// <param name="LogLevel">The log level (<c>LOG_LEVEL</c>: trace, debug, info, warn, error), or null.</param>
/// <param name="Sources">Where the settings came from, for messages: the file's path and/or "environment".</param>
public sealed record AppsMonitorSettings(
    string? UserId, string? Pat, bool PatFromEnvironment, string? ServerUrl, TimeSpan? Interval, string? AlertRoom, string? AppId, LogLevel? LogLevel,
    IReadOnlyList<string> Sources)
{
    /// <summary>Everything but the PAT.</summary>
    public override string ToString() => $"apps monitor settings from {string.Join(" and ", Sources)} (server {ServerUrl}, user {UserId})";
}

/// <summary>
/// Reads seed 000's apps-monitor configuration (<see cref="AppsMonitorSettings"/>) and turns it into the equivalent
/// <c>rocketchat-apps</c> check: <c>serverURL</c> → <c>serverUrl</c> (instances found through <c>instances.get</c>, as the
/// original's HA mode does), <c>userId</c>, <c>userPAT</c> → <c>pat</c> (or <c>patEnv</c>), <c>interval</c> ms → <c>interval</c>,
/// <c>appId</c> → <c>appIds</c>, <c>alertRoom</c>. Used by <c>tocsin start</c> (drop-in: no Tocsin configuration, the original's
/// file or variables present) and <c>tocsin import apps-monitor</c>.
/// </summary>
public static class AppsMonitorImport
{
    /// <summary>The original's configuration file name, looked for in the working directory.</summary>
    public const string FileName = "apps-monitor-config.json";

    /// <summary>The name of the check made.</summary>
    public const string CheckName = "rocketchat-apps";

    /// <summary>The original's smallest interval: values below are ignored (with a warning) and the default used.</summary>
    public static readonly TimeSpan MinInterval = TimeSpan.FromMilliseconds(30_000);

    private static readonly string[] Variables = ["USER_ID", "USER_PAT", "SERVER_URL", "INTERVAL_MS", "ALERT_ROOM", "APP_ID", "LOG_LEVEL"];

    /// <summary>
    /// Whether the original's settings are present: <paramref name="file"/> exists, or one of its variables is set.
    /// </summary>
    public static bool IsPresent(string file, Func<string, string?> env)
    {
        ArgumentNullException.ThrowIfNull(env);
        return File.Exists(file) || Variables.Any(v => !string.IsNullOrEmpty(env(v)));
    }

    /// <summary>
    /// Reads <paramref name="file"/> when it exists (its keys win) and the variables through <paramref name="env"/>. Values the
    /// original would ignore add a line to <paramref name="warnings"/> (an interval under 30000 ms or not a number, an unknown
    /// LOG_LEVEL, unknown keys in the file).
    /// </summary>
    /// <exception cref="ConfigException">When the file cannot be read, is not a JSON object, or a key has a value of the wrong type.</exception>
    public static AppsMonitorSettings Read(string file, Func<string, string?> env, List<string> warnings)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(warnings);
        var fromFile = new Dictionary<string, string>(StringComparer.Ordinal);
        var sources = new List<string>();
        if (File.Exists(file))
        {
            sources.Add(file);
            JsonNode? node;
            try
            {
                node = JsonNode.Parse(File.ReadAllText(file), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new ConfigException(file, $"cannot be read: {ex.Message}");
            }
            catch (JsonException ex)
            {
                throw new ConfigException(file, $"is not valid JSON: {ex.Message}");
            }

            if (node is not JsonObject o)
            {
                throw new ConfigException(file, "must hold a JSON object: {\"userId\", \"userPAT\", \"serverURL\", \"interval\", \"alertRoom\", \"appId\"}");
            }

            foreach (var (key, value) in o)
            {
                if (key is not ("userId" or "userPAT" or "serverURL" or "interval" or "alertRoom" or "appId"))
                {
                    warnings.Add($"{file}: key {ConfigObjectReader.Quote(key)} is not one the apps monitor reads (userId, userPAT, serverURL, interval, alertRoom, appId): ignored");
                    continue;
                }

                string? text = value switch
                {
                    null => null,
                    JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
                    JsonValue v when key == "interval" && v.GetValueKind() == JsonValueKind.Number => v.ToJsonString(),
                    _ => throw new ConfigException(file, $"key {ConfigObjectReader.Quote(key)} must be a {(key == "interval" ? "number of milliseconds" : "string")}"),
                };
                if (!string.IsNullOrEmpty(text))
                {
                    fromFile[key] = text;
                }
            }
        }

        bool anyEnv = false;
        string? Get(string key, string variable)
        {
            if (fromFile.TryGetValue(key, out string? v))
            {
                return v;
            }

            string? e = env(variable);
            anyEnv |= !string.IsNullOrEmpty(e);
            return string.IsNullOrEmpty(e) ? null : e;
        }

        string? userId = Get("userId", "USER_ID");
        string? pat = Get("userPAT", "USER_PAT");
        bool patFromEnv = pat is not null && !fromFile.ContainsKey("userPAT");
        string? server = Get("serverURL", "SERVER_URL");
        string? intervalText = Get("interval", "INTERVAL_MS");
        string? room = Get("alertRoom", "ALERT_ROOM");
        string? appId = Get("appId", "APP_ID");
        string? level = env("LOG_LEVEL");
        anyEnv |= !string.IsNullOrEmpty(level);
        if (anyEnv)
        {
            sources.Add("environment");
        }

        TimeSpan? interval = null;
        if (intervalText is not null)
        {
            if (!double.TryParse(intervalText, NumberStyles.Float, CultureInfo.InvariantCulture, out double ms) || double.IsNaN(ms) || ms > TimeSpan.FromDays(1).TotalMilliseconds)
            {
                warnings.Add($"interval {ConfigObjectReader.Quote(intervalText)} is not a number of milliseconds (up to one day): the default, 300000 ms (5 min), is used");
            }
            else if (ms < MinInterval.TotalMilliseconds)
            {
                warnings.Add($"interval {intervalText} ms is under 30000 ms: ignored as the apps monitor does; the default, 300000 ms (5 min), is used");
            }
            else
            {
                interval = TimeSpan.FromMilliseconds(Math.Round(ms));
            }
        }

        LogLevel? logLevel = null;
        if (!string.IsNullOrEmpty(level))
        {
            logLevel = level.Trim().ToLowerInvariant() switch
            {
                "trace" => Microsoft.Extensions.Logging.LogLevel.Trace,
                "debug" => Microsoft.Extensions.Logging.LogLevel.Debug,
                "info" or "information" => Microsoft.Extensions.Logging.LogLevel.Information,
                "warn" or "warning" => Microsoft.Extensions.Logging.LogLevel.Warning,
                "error" or "critical" => Microsoft.Extensions.Logging.LogLevel.Error,
                _ => null,
            };
            if (logLevel is null)
            {
                warnings.Add($"LOG_LEVEL {ConfigObjectReader.Quote(level)} is not one of trace, debug, info, warn, error: ignored");
            }
        }

        return new AppsMonitorSettings(userId, pat, patFromEnv, server, interval, room, appId, logLevel, sources);
    }

    /// <summary>
    /// The settings the check cannot run without and <paramref name="s"/> lacks, each named as the original's file key and
    /// variable (e.g. <c>serverURL (SERVER_URL)</c>); empty when complete.
    /// </summary>
    public static IReadOnlyList<string> Missing(AppsMonitorSettings s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var missing = new List<string>();
        if (s.ServerUrl is null)
        {
            missing.Add("serverURL (SERVER_URL)");
        }

        if (s.UserId is null)
        {
            missing.Add("userId (USER_ID)");
        }

        if (s.Pat is null)
        {
            missing.Add("userPAT (USER_PAT)");
        }

        return missing;
    }

    /// <summary>
    /// The <c>rocketchat-apps</c> check of <paramref name="s"/>, as a Tocsin configuration <c>checks</c> entry. The PAT is
    /// written as <c>"patEnv": "USER_PAT"</c> when it came from that variable and <paramref name="inlinePat"/> is false, else inline.
    /// Missing required settings are left out: loading the result then names them.
    /// </summary>
    public static JsonObject ToCheck(AppsMonitorSettings s, bool inlinePat)
    {
        ArgumentNullException.ThrowIfNull(s);
        var check = new JsonObject
        {
            ["name"] = CheckName,
            ["kind"] = RocketChatAppsCheckKind.KindName,
            ["description"] = "Imported from the Rocket.Chat apps monitor: keeps apps enabled alike on every instance.",
        };
        if (s.ServerUrl is not null)
        {
            check["serverUrl"] = s.ServerUrl;
        }

        if (s.UserId is not null)
        {
            check["userId"] = s.UserId;
        }

        if (s.Pat is not null)
        {
            if (s.PatFromEnvironment && !inlinePat)
            {
                check["patEnv"] = "USER_PAT";
            }
            else
            {
                check["pat"] = s.Pat;
            }
        }

        if (s.Interval is { } interval)
        {
            check["interval"] = Status.DefinitionView.Format(interval);
        }

        if (s.AppId is not null)
        {
            check["appIds"] = new JsonArray(s.AppId);
        }

        if (s.AlertRoom is not null)
        {
            check["alertRoom"] = s.AlertRoom;
        }

        return check;
    }

    /// <summary>
    /// A whole Tocsin configuration running only the check of <paramref name="s"/> (the drop-in of <c>tocsin start</c>), with
    /// the outbox at <paramref name="localDatabasePath"/> and the PAT inline (it stays in memory).
    /// </summary>
    public static string ToConfigJson(AppsMonitorSettings s, string localDatabasePath)
    {
        var root = new JsonObject
        {
            ["localDatabasePath"] = localDatabasePath,
            ["checks"] = new JsonArray(ToCheck(s, inlinePat: true)),
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
