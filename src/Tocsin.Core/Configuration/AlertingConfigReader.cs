using System.Globalization;
using System.Text.Json;
using Tocsin.Alerting;
using Tocsin.Checks;
using Tocsin.Scheduling;

namespace Tocsin.Configuration;

/// <summary>Reads the alerting parts of Tocsin's configuration: <c>notifications</c>, <c>maintenance</c>, and the alerting
/// fields of a check or of <c>defaults</c> (<c>notify</c>, <c>renotifyInterval</c>, <c>escalation</c>, <c>dependsOn</c>).</summary>
internal static class AlertingConfigReader
{
    private const int MaxNameLength = 100;

    /// <summary>Reads the <c>notifications</c> array: each an object with a unique <c>name</c> and a known <c>type</c>.</summary>
    public static List<NotificationChannelDefinition> ReadChannels(ConfigObjectReader root, NotificationChannelTypeRegistry types)
    {
        var channels = new List<NotificationChannelDefinition>();
        var raw = root.Raw("notifications");
        if (raw is null)
        {
            return channels;
        }

        if (raw.Value.ValueKind != JsonValueKind.Array)
        {
            root.Error("notifications", null, "must be an array of channel objects, e.g. [{\"name\": \"ops\", \"type\": \"webhook\", \"url\": \"https://…\"}]");
            return channels;
        }

        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        int i = 0;
        foreach (var item in raw.Value.EnumerateArray())
        {
            int index = i++;
            string location = $"notifications[{index}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                root.Errors.Add(new ConfigError(root.File, location, "-", ConfigObjectReader.Quote(item.GetRawText()), "each channel must be a JSON object"));
                continue;
            }

            if (item.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String)
            {
                location += " " + ConfigObjectReader.Quote(n.GetString()!);
            }

            int before = root.Errors.Count;
            var r = new ConfigObjectReader(item, root.File, location, root.Errors);
            string? name = r.String("name", required: true);
            if (name is not null && !ValidName(name))
            {
                r.Error("name", ConfigObjectReader.Quote(name), $"must be 1 to {MaxNameLength} characters: letters, digits, '-', '_' or '.'");
            }
            else if (name is not null && !seen.TryAdd(name, index))
            {
                r.Error("name", ConfigObjectReader.Quote(name), $"duplicate name: notifications[{seen[name]}] already uses it; names must be unique");
            }

            string? typeName = r.String("type", required: true);
            INotificationChannelType? type = null;
            if (typeName is not null && !types.TryGet(typeName, out type))
            {
                r.Error("type", ConfigObjectReader.Quote(typeName), $"unknown channel type; allowed: {string.Join(", ", types.Names)}");
            }

            object? options = type?.ReadOptions(r);
            if (type is not null)
            {
                r.RejectUnknownFields();
            }

            if (root.Errors.Count == before && name is not null && type is not null && options is not null)
            {
                channels.Add(new NotificationChannelDefinition(name, type.Type, options, index));
            }
        }

        return channels;
    }

    /// <summary>Reads a check's (or <c>defaults</c>') alerting fields; a missing field keeps <paramref name="fallback"/>'s.</summary>
    public static AlertPolicy ReadPolicy(ConfigObjectReader r, AlertPolicy fallback)
    {
        var notify = NameList(r, "notify") ?? fallback.Notify;
        var renotify = fallback.RenotifyInterval;
        if (r.Raw("renotifyInterval") is { ValueKind: JsonValueKind.String } rv && rv.GetString() is "never" or "0")
        {
            renotify = null;
        }
        else if (r.Has("renotifyInterval"))
        {
            renotify = r.Duration("renotifyInterval", TimeSpan.FromMinutes(1), TimeSpan.FromDays(30)) ?? renotify;
        }

        var dependsOn = NameList(r, "dependsOn") ?? fallback.DependsOn;
        var escalation = fallback.Escalation;
        var raw = r.Raw("escalation");
        if (raw is { } arr)
        {
            if (arr.ValueKind != JsonValueKind.Array)
            {
                r.Error("escalation", null, "must be an array of steps, e.g. [{\"after\": \"30m\", \"notify\": [\"oncall\"]}]");
            }
            else
            {
                var steps = new List<EscalationStep>();
                int i = 0;
                foreach (var item in arr.EnumerateArray())
                {
                    string field = $"escalation[{i++}]";
                    if (item.ValueKind != JsonValueKind.Object)
                    {
                        r.Error(field, ConfigObjectReader.Quote(item.GetRawText()), "must be an object with \"after\" and \"notify\"");
                        continue;
                    }

                    var s = new ConfigObjectReader(item, r.File, r.Location, r.Errors, field + ".");
                    var after = s.Duration("after", TimeSpan.FromMinutes(1), TimeSpan.FromDays(30));
                    if (after is null && !s.Has("after"))
                    {
                        s.Error("after", null, "is required: how long a problem stays unacknowledged before this step, e.g. \"30m\"");
                    }

                    var to = NameList(s, "notify");
                    if (to is null or { Count: 0 })
                    {
                        s.Error("notify", null, "is required: the channel names this step sends to");
                    }

                    s.RejectUnknownFields();
                    if (after is { } a && to is { Count: > 0 })
                    {
                        if (steps.Count > 0 && a <= steps[^1].After)
                        {
                            s.Error("after", Duration.Format(a), $"must be later than the step before ({Duration.Format(steps[^1].After)})");
                        }

                        steps.Add(new EscalationStep(a, to));
                    }
                }

                escalation = steps;
            }
        }

        return new AlertPolicy { Notify = notify, RenotifyInterval = renotify, DependsOn = dependsOn, Escalation = escalation };
    }

    /// <summary>Reads a check's <c>slowResponse</c> object (<c>p95Above</c> required, <c>window</c> default 10 m, <c>minRuns</c> default 5).</summary>
    public static SlowResponseRule? ReadSlowResponse(ConfigObjectReader r)
    {
        var o = r.Object("slowResponse");
        if (o is null)
        {
            return null;
        }

        int before = r.Errors.Count;
        var above = o.Duration("p95Above", TimeSpan.FromMilliseconds(1), TimeSpan.FromMinutes(10));
        if (above is null && !o.Has("p95Above"))
        {
            o.Error("p95Above", null, "is required: the p95 duration above which an OK run becomes WARNING, e.g. \"800ms\"");
        }

        var window = o.Duration("window", TimeSpan.FromMinutes(1), TimeSpan.FromHours(24)) ?? TimeSpan.FromMinutes(10);
        int minRuns = (int)(o.Integer("minRuns", 1, 1000) ?? 5);
        o.RejectUnknownFields();
        return r.Errors.Count == before && above is { } a ? new SlowResponseRule(a, window, minRuns) : null;
    }

    /// <summary>Reads the <c>maintenance</c> array.</summary>
    public static List<MaintenanceWindow> ReadMaintenance(ConfigObjectReader root, TimeZoneInfo zone)
    {
        var windows = new List<MaintenanceWindow>();
        var raw = root.Raw("maintenance");
        if (raw is null)
        {
            return windows;
        }

        if (raw.Value.ValueKind != JsonValueKind.Array)
        {
            root.Error("maintenance", null, "must be an array of windows, e.g. [{\"schedule\": \"0 2 * * 0\", \"duration\": \"2h\"}]");
            return windows;
        }

        int i = 0;
        foreach (var item in raw.Value.EnumerateArray())
        {
            string location = $"maintenance[{i++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                root.Errors.Add(new ConfigError(root.File, location, "-", ConfigObjectReader.Quote(item.GetRawText()), "each window must be a JSON object"));
                continue;
            }

            int before = root.Errors.Count;
            var r = new ConfigObjectReader(item, root.File, location, root.Errors);
            string name = r.String("name") ?? location;
            var checks = NameList(r, "checks") ?? [];
            var tags = r.StringList("tags") ?? [];
            string? cron = r.String("schedule");
            var duration = r.Duration("duration", TimeSpan.FromMinutes(1), TimeSpan.FromDays(7));
            var from = Instant(r, "from");
            var to = Instant(r, "to");
            r.RejectUnknownFields();
            CronSchedule? schedule = null;
            if (cron is not null)
            {
                try
                {
                    schedule = CronSchedule.Parse(cron, zone);
                }
                catch (FormatException ex)
                {
                    r.Error("schedule", ConfigObjectReader.Quote(cron), $"not a valid cron expression ({ex.Message}); e.g. \"0 2 * * 0\" (Sundays 02:00)");
                }

                if (duration is null && !r.Has("duration"))
                {
                    r.Error("duration", null, "is required with \"schedule\": how long each window lasts, e.g. \"2h\"");
                }

                if (r.Has("from") || r.Has("to"))
                {
                    r.Error("from", null, "give either \"schedule\" + \"duration\" or \"from\" + \"to\", not both");
                }
            }
            else if (from is not null || to is not null || r.Has("from") || r.Has("to"))
            {
                if (!r.Has("from") || !r.Has("to"))
                {
                    r.Error(r.Has("from") ? "to" : "from", null, "is required: a one-off window needs both \"from\" and \"to\" (ISO 8601 with offset)");
                }
                else if (from is { } f && to is { } t && t <= f)
                {
                    r.Error("to", t.ToString("O", CultureInfo.InvariantCulture), "must be after \"from\"");
                }
            }
            else
            {
                r.Error("schedule", null, "a window needs \"schedule\" (cron) + \"duration\", or \"from\" + \"to\"");
            }

            if (root.Errors.Count == before)
            {
                windows.Add(new MaintenanceWindow
                {
                    Name = name, Checks = checks, Tags = tags, Schedule = schedule, Duration = duration ?? TimeSpan.Zero, From = from, To = to,
                });
            }
        }

        return windows;
    }

    /// <summary>
    /// Checks references once everything is read: every <c>notify</c>/<c>escalation</c> channel exists, every <c>dependsOn</c>
    /// names another check (no cycle), every check named by a maintenance window exists.
    /// </summary>
    public static void ValidateReferences(
        string file, List<ConfigError> errors, IReadOnlyList<CheckDefinition> checks, IReadOnlyList<NotificationChannelDefinition> channels,
        IReadOnlyList<MaintenanceWindow> maintenance)
    {
        var channelNames = channels.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        var byName = checks.ToDictionary(c => c.Name, StringComparer.Ordinal);
        string allowed = channelNames.Count == 0 ? "none is configured in \"notifications\"" : "configured: " + string.Join(", ", channelNames.Order(StringComparer.Ordinal));
        foreach (var c in checks)
        {
            string location = $"checks[{c.Index}] {ConfigObjectReader.Quote(c.Name)}";
            foreach (string ch in c.Alerting.Notify.Where(n => !channelNames.Contains(n)))
            {
                errors.Add(new ConfigError(file, location, "notify", ConfigObjectReader.Quote(ch), $"unknown channel; {allowed}"));
            }

            foreach (string ch in c.Alerting.Escalation.SelectMany(e => e.Notify).Where(n => !channelNames.Contains(n)).Distinct(StringComparer.Ordinal))
            {
                errors.Add(new ConfigError(file, location, "escalation", ConfigObjectReader.Quote(ch), $"unknown channel; {allowed}"));
            }

            foreach (string parent in c.Alerting.DependsOn)
            {
                if (parent == c.Name)
                {
                    errors.Add(new ConfigError(file, location, "dependsOn", ConfigObjectReader.Quote(parent), "a check cannot depend on itself"));
                }
                else if (!byName.ContainsKey(parent))
                {
                    errors.Add(new ConfigError(file, location, "dependsOn", ConfigObjectReader.Quote(parent), "no check has this name"));
                }
                else if (Reaches(byName, parent, c.Name))
                {
                    errors.Add(new ConfigError(file, location, "dependsOn", ConfigObjectReader.Quote(parent), "makes a cycle: that check depends (through others) on this one"));
                }
            }
        }

        for (int i = 0; i < maintenance.Count; i++)
        {
            foreach (string name in maintenance[i].Checks.Where(n => !byName.ContainsKey(n)))
            {
                errors.Add(new ConfigError(file, $"maintenance[{i}]", "checks", ConfigObjectReader.Quote(name), "no check has this name"));
            }
        }
    }

    private static bool Reaches(Dictionary<string, CheckDefinition> byName, string from, string target)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>([from]);
        while (stack.TryPop(out var n))
        {
            if (n == target)
            {
                return true;
            }

            if (seen.Add(n) && byName.TryGetValue(n, out var c))
            {
                foreach (string p in c.Alerting.DependsOn)
                {
                    stack.Push(p);
                }
            }
        }

        return false;
    }

    /// <summary>A string or an array of strings (distinct, non-empty).</summary>
    private static List<string>? NameList(ConfigObjectReader r, string field)
    {
        var raw = r.Raw(field);
        if (raw is { ValueKind: JsonValueKind.String } s)
        {
            string v = s.GetString()!;
            if (v.Length == 0)
            {
                r.Error(field, "\"\"", "must be a name or a list of names");
                return null;
            }

            return [v];
        }

        var list = r.StringList(field);
        if (list is not null && list.Any(string.IsNullOrEmpty))
        {
            r.Error(field, null, "names must not be empty");
            return null;
        }

        return list?.Distinct(StringComparer.Ordinal).ToList();
    }

    private static DateTimeOffset? Instant(ConfigObjectReader r, string field)
    {
        string? s = r.String(field);
        if (s is null)
        {
            return null;
        }

        if (!DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.None, out var v) || !HasOffset(s))
        {
            r.Error(field, ConfigObjectReader.Quote(s), "must be an ISO 8601 time with an offset, e.g. \"2026-12-01T22:00:00Z\" or \"2026-12-01T23:00:00+01:00\"");
            return null;
        }

        return v.ToUniversalTime();
    }

    private static bool HasOffset(string s) => s.EndsWith('Z') || s.EndsWith('z') || (s.Length > 6 && (s[^6] is '+' or '-') && s[^3] == ':');

    private static bool ValidName(string name) =>
        name.Length is > 0 and <= MaxNameLength && name.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' or '.');
}
