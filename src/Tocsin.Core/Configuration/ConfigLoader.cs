using System.Globalization;
using System.Text.Json;
using Tocsin.Checks;
using Tocsin.Checks.Http;
using Tocsin.State;
using Tocsin.Storage.Postgres;

namespace Tocsin.Configuration;

/// <summary>
/// Loads and validates a configuration file, in Tocsin's format or seed 004's
/// (<c>local_database_path</c>, <c>external_database_uri</c>, <c>services[]</c>). Every problem is
/// collected and reported at once in a <see cref="ConfigException"/>.
/// </summary>
public sealed class ConfigLoader
{
    /// <summary>Shortest allowed interval.</summary>
    public static readonly TimeSpan MinInterval = TimeSpan.FromSeconds(1);

    /// <summary>Longest allowed interval.</summary>
    public static readonly TimeSpan MaxInterval = TimeSpan.FromHours(24);

    /// <summary>Default interval when neither the check nor <c>defaults</c> set one.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(30);

    /// <summary>Default timeout when neither the check nor <c>defaults</c> set one.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Smallest allowed <c>maxOutboxSize</c>: 1 MiB.</summary>
    public const long MinOutboxSize = 1L << 20;

    /// <summary>Largest allowed <c>maxOutboxSize</c>: 16 TiB.</summary>
    public const long MaxOutboxSize = 16L << 40;

    private const int MaxNameLength = 200;

    private static readonly JsonDocumentOptions JsonOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    private readonly CheckKindRegistry _kinds;
    private readonly Alerting.NotificationChannelTypeRegistry _channelTypes;

    /// <summary>Reads environment variables the configuration honours (seed 002's <c>LOGS_TIMEWINDOW</c>, <c>CLEANUP_INTERVAL</c>).
    /// <value>Default: the process environment.</value></summary>
    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;

    /// <summary>Creates a loader for <paramref name="kinds"/> and <paramref name="channelTypes"/> (default: the built-in ones).</summary>
    public ConfigLoader(CheckKindRegistry kinds, Alerting.NotificationChannelTypeRegistry? channelTypes = null)
    {
        _kinds = kinds;
        _channelTypes = channelTypes ?? Alerting.NotificationChannelTypes.CreateDefault();
    }

    /// <summary>
    /// The configuration path to use: <paramref name="explicitPath"/> (from <c>--config-path</c>), else the
    /// <c>TOCSIN_CONFIG</c> environment variable, else <c>~/.tocsin/config.json</c>. <c>~</c> is expanded.
    /// </summary>
    public static string ResolvePath(string? explicitPath)
    {
        string? path = explicitPath;
        if (string.IsNullOrWhiteSpace(path))
        {
            path = System.Environment.GetEnvironmentVariable("TOCSIN_CONFIG");
        }

        if (string.IsNullOrWhiteSpace(path))
        {
            path = "~/.tocsin/config.json";
        }

        return Path.GetFullPath(ExpandHome(path));
    }

    /// <summary>Expands a leading <c>~</c> to the user's home directory.</summary>
    public static string ExpandHome(string path)
    {
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal))
        {
            string home = System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile);
            return Path.Join(home, path.AsSpan(1));
        }

        return path;
    }

    /// <summary>Reads and validates the file at <paramref name="path"/>.</summary>
    /// <exception cref="ConfigException">When the file is missing, unreadable, not JSON, or invalid.</exception>
    public TocsinConfig Load(string path)
    {
        string full = Path.GetFullPath(ExpandHome(path));
        string text;
        try
        {
            text = File.ReadAllText(full);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(full, $"cannot be read: {ex.Message}. Create one with `tocsin config create`.");
        }

        return Parse(text, full);
    }

    /// <summary>Validates configuration <paramref name="json"/> as if read from <paramref name="path"/>.</summary>
    /// <exception cref="ConfigException">When it is not JSON or is invalid.</exception>
    public TocsinConfig Parse(string json, string path)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new ConfigException(path, $"is not valid JSON: {ex.Message}");
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ConfigException(path, "must hold a JSON object at the top level");
            }

            var errors = new List<ConfigError>();
            var root = new ConfigObjectReader(doc.RootElement, path, "(top level)", errors);
            bool seed004 = doc.RootElement.TryGetProperty("services", out _) || doc.RootElement.TryGetProperty("local_database_path", out _);
            var config = seed004 ? ReadSeed004(root, path) : ReadTocsin(root, path);
            if (errors.Count > 0)
            {
                throw new ConfigException(errors);
            }

            return config;
        }
    }

    private TocsinConfig ReadTocsin(ConfigObjectReader root, string path)
    {
        string baseDir = Path.GetDirectoryName(path) ?? ".";
        root.Has("$schema");
        string dbPath = root.String("localDatabasePath") ?? "~/.tocsin/local.db";
        ValidateLocalDatabase(root, "localDatabasePath", dbPath, baseDir);
        string? external = root.String("externalDatabaseUri");
        ValidateExternalDatabase(root, "externalDatabaseUri", external);
        string? passwordFile = root.String("externalDatabasePasswordFile");
        if (passwordFile is not null)
        {
            passwordFile = ResolveRelative(passwordFile, baseDir);
            if (!File.Exists(passwordFile))
            {
                root.Error("externalDatabasePasswordFile", ConfigObjectReader.Quote(passwordFile), "file not found; it must hold the central database's password on its first line");
            }
        }

        var retention = root.Duration("localRetention", TimeSpan.FromHours(1), TimeSpan.FromDays(3650)) ?? TimeSpan.FromDays(7);
        long maxOutbox = root.ByteSize("maxOutboxSize", MinOutboxSize, MaxOutboxSize) ?? TocsinConfig.DefaultMaxOutboxSize;
        var centralRetention = root.Duration("centralRetention", TimeSpan.FromDays(1), TimeSpan.FromDays(3650)) ?? TimeSpan.FromDays(30);
        string urls = "http://127.0.0.1:8080";
        var webAuth = new WebAuthConfig();
        IReadOnlyList<Uri> relatedMonitors = [];
        string webTitle = TocsinConfig.DefaultWebTitle;
        Uri? publicUrl = null;
        var web = root.Object("web");
        if (web is not null)
        {
            urls = web.String("urls") ?? urls;
            ValidateUrls(web, urls);
            webAuth = WebAccessConfigReader.ReadAuth(web);
            relatedMonitors = WebAccessConfigReader.ReadRelatedMonitors(web);
            webTitle = web.String("title") ?? webTitle;
            publicUrl = ReadPublicUrl(web);
            web.RejectUnknownFields();
        }

        TimeSpan? defInterval = null;
        TimeSpan? defTimeout = null;
        var defThresholds = StateThresholds.Default;
        var defPolicy = Alerting.AlertPolicy.None;
        var defaults = root.Object("defaults");
        if (defaults is not null)
        {
            defInterval = defaults.Duration("interval", MinInterval, MaxInterval);
            defTimeout = defaults.Duration("timeout", TimeSpan.FromMilliseconds(10), MaxInterval);
            defThresholds = ReadThresholds(defaults, defThresholds);
            defPolicy = AlertingConfigReader.ReadPolicy(defaults, defPolicy);
            defaults.RejectUnknownFields();
        }

        var heartbeat = TimeSpan.FromSeconds(10);
        var fleet = root.Object("fleet");
        if (fleet is not null)
        {
            heartbeat = fleet.Duration("heartbeatInterval", TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5)) ?? heartbeat;
            fleet.RejectUnknownFields();
        }

        int maxConcurrent = 1024;
        var scheduler = root.Object("scheduler");
        if (scheduler is not null)
        {
            maxConcurrent = (int)(scheduler.Integer("maxConcurrentRuns", 1, 100_000) ?? maxConcurrent);
            scheduler.RejectUnknownFields();
        }

        var zone = TimeZoneInfo.Utc;
        if (root.String("timeZone") is { } zoneName)
        {
            if (FindTimeZone(zoneName) is { } found)
            {
                zone = found;
            }
            else
            {
                root.Error("timeZone", ConfigObjectReader.Quote(zoneName), "unknown time zone; give an IANA name such as \"UTC\", \"Europe/Paris\" or \"America/New_York\"");
            }
        }

        var promiseDirectories = new List<string>();
        foreach (string dir in root.StringList("promiseDirectories") ?? [])
        {
            string resolved = dir.Trim().Length == 0 || dir.Contains('\0', StringComparison.Ordinal) ? "" : ResolveRelative(dir, baseDir);
            if (resolved.Length == 0 || !Directory.Exists(resolved))
            {
                root.Error("promiseDirectories", ConfigObjectReader.Quote(dir),
                    "must name an existing folder of promises (e.g. \"/srv/slapgrid/slappart0/etc/monitor-promise\"; relative paths are relative to the configuration file's folder)");
            }
            else if (promiseDirectories.Contains(resolved, StringComparer.Ordinal))
            {
                root.Error("promiseDirectories", ConfigObjectReader.Quote(dir), "is listed twice");
            }
            else
            {
                promiseDirectories.Add(resolved);
            }
        }

        string? slapOsPublicFolder = SlapOsConfigReader.ReadPublicFolder(root, baseDir);
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        var checks = ReadItems(root, "checks", "check", (item, i) => ReadCheck(item, i, path, root.Errors, defInterval, defTimeout, defThresholds, defPolicy, names, zone));
        Checks.Heartbeat.HeartbeatCheckKind.ValidateTokens(path, root.Errors, checks);
        var channels = AlertingConfigReader.ReadChannels(root, _channelTypes);
        AddImpliedChannels(root, checks, channels);
        var deliveryTimeout = TimeSpan.FromSeconds(10);
        var giveUpAfter = TimeSpan.FromHours(24);
        if (root.Object("alerting") is { } alertingSection)
        {
            deliveryTimeout = alertingSection.Duration("deliveryTimeout", TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5)) ?? deliveryTimeout;
            giveUpAfter = alertingSection.Duration("giveUpAfter", TimeSpan.FromMinutes(1), TimeSpan.FromDays(30)) ?? giveUpAfter;
            alertingSection.RejectUnknownFields();
        }

        var maintenance = AlertingConfigReader.ReadMaintenance(root, zone);
        AlertingConfigReader.ValidateReferences(path, root.Errors, checks, channels, maintenance);
        var ingestion = Ingestion.IngestionOptions.Read(root, Environment);

        root.RejectUnknownFields();
        return new TocsinConfig
        {
            SourcePath = path,
            Format = ConfigFormat.Tocsin,
            LocalDatabasePath = ResolveRelative(dbPath, baseDir),
            ExternalDatabaseUri = external,
            ExternalDatabasePasswordFile = passwordFile,
            CentralRetention = centralRetention,
            WebUrls = urls,
            WebAuth = webAuth,
            RelatedMonitors = relatedMonitors,
            WebTitle = webTitle,
            MaxConcurrentRuns = maxConcurrent,
            LocalRetention = retention,
            MaxOutboxSize = maxOutbox,
            HeartbeatInterval = heartbeat,
            SlapOsPublicFolder = slapOsPublicFolder,
            Checks = checks,
            PromiseDirectories = promiseDirectories,
            TimeZone = zone,
            Notifications = channels,
            Maintenance = maintenance,
            DeliveryTimeout = deliveryTimeout,
            DeliveryGiveUpAfter = giveUpAfter,
            WebPublicUrl = publicUrl,
            Ingestion = ingestion,
        };
    }

    // Channels checks bring (rocketchat-apps' alertRoom): added to the channels and to the check's notify list.
    private void AddImpliedChannels(ConfigObjectReader root, List<CheckDefinition> checks, List<Alerting.NotificationChannelDefinition> channels)
    {
        for (int i = 0; i < checks.Count; i++)
        {
            var check = checks[i];
            if (!_kinds.TryGet(check.Kind, out var kind) || kind is not IImpliesNotificationChannels implies)
            {
                continue;
            }

            foreach (var channel in implies.ImpliedChannels(check))
            {
                if (channels.Any(c => c.Name == channel.Name))
                {
                    root.Error("notifications", ConfigObjectReader.Quote(channel.Name), $"this name is taken by the channel of check {ConfigObjectReader.Quote(check.Name)}; rename the channel");
                    continue;
                }

                channels.Add(channel with { Index = channels.Count });
                check = check with { Alerting = check.Alerting with { Notify = [.. check.Alerting.Notify, channel.Name] } };
            }

            checks[i] = check;
        }
    }

    private static Uri? ReadPublicUrl(ConfigObjectReader web)
    {
        string? raw = web.String("publicUrl");
        if (raw is null)
        {
            return null;
        }

        if (!Uri.TryCreate(raw.EndsWith('/') ? raw : raw + "/", UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(uri.UserInfo))
        {
            web.Error("publicUrl", ConfigObjectReader.Quote(raw), "must be an http:// or https:// URL without credentials, e.g. https://tocsin.example.org/");
            return null;
        }

        return uri;
    }

    /// <summary>The time zone with IANA id <paramref name="id"/>, or null when this machine knows none.</summary>
    public static TimeZoneInfo? FindTimeZone(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (id.Length == 0)
        {
            return null;
        }

        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id);
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            return null;
        }
    }

    private CheckDefinition? ReadCheck(
        JsonElement item, int index, string path, List<ConfigError> errors, TimeSpan? configuredDefInterval, TimeSpan? configuredDefTimeout, StateThresholds defThresholds,
        Alerting.AlertPolicy defPolicy, Dictionary<string, int> names, TimeZoneInfo zone)
    {
        string location = $"checks[{index}]";
        if (item.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new ConfigError(path, location, "-", ConfigObjectReader.Quote(item.GetRawText()), "each check must be a JSON object"));
            return null;
        }

        string? rawName = item.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
        if (rawName is not null)
        {
            location += " " + ConfigObjectReader.Quote(rawName);
        }

        int before = errors.Count;
        var r = new ConfigObjectReader(item, path, location, errors) { TimeZone = zone };
        string? name = r.String("name", required: true);
        if (name is not null)
        {
            if (name.Length == 0 || name.Length > MaxNameLength || name.Any(char.IsControl) || name.Trim() != name)
            {
                r.Error("name", ConfigObjectReader.Quote(name), $"must be 1 to {MaxNameLength} characters, without control characters or surrounding spaces");
            }
            else if (names.TryGetValue(name, out int first))
            {
                r.Error("name", ConfigObjectReader.Quote(name), $"duplicate name: checks[{first}] already uses it; names must be unique");
            }
            else
            {
                names[name] = index;
            }
        }

        string? kindName = r.String("kind", required: true);
        ICheckKind? kind = null;
        if (kindName is not null && !_kinds.TryGet(kindName, out kind))
        {
            r.Error("kind", ConfigObjectReader.Quote(kindName), $"unknown check kind; allowed: {string.Join(", ", _kinds.Names)}");
        }

        // defaults.timeout, else the kind's own default (60 s for command checks), else 10 s.
        TimeSpan defTimeout = configuredDefTimeout ?? kind?.DefaultTimeout ?? DefaultTimeout;
        bool explicitTimeout = r.Has("timeout");
        // defaults.interval, else the kind's own default (5 min for rocketchat-apps), else 30 s.
        var interval = r.Duration("interval", MinInterval, MaxInterval) ?? configuredDefInterval ?? kind?.DefaultInterval ?? DefaultInterval;
        var timeout = r.Duration("timeout", TimeSpan.FromMilliseconds(10), MaxInterval);
        if (timeout is { } t && t >= interval)
        {
            r.Error("timeout", ConfigObjectReader.Quote(item.GetProperty("timeout").GetString()!), $"must be shorter than the interval ({Duration.Format(interval)})");
        }

        var effectiveTimeout = timeout ?? (explicitTimeout ? defTimeout : ImplicitTimeout(defTimeout, interval));
        var tags = r.StringList("tags") ?? [];
        bool enabled = r.Bool("enabled") ?? true;
        var placement = kind?.DefaultPlacement ?? CheckPlacement.Shard;
        if (r.String("placement") is { } p)
        {
            switch (p)
            {
                case "shard": placement = CheckPlacement.Shard; break;
                case "all": placement = CheckPlacement.All; break;
                case "leader": placement = CheckPlacement.Leader; break;
                default:
                    r.Error("placement", ConfigObjectReader.Quote(p),
                        "allowed: \"shard\" (one live agent runs it; the default), \"all\" (every agent runs it) or \"leader\" (only the leader runs it; the default of rocketchat-apps)");
                    break;
            }
        }

        r.String("description");
        var thresholds = ReadThresholds(r, defThresholds);
        bool isPublic = r.Bool("public") ?? false;
        var alerting = AlertingConfigReader.ReadPolicy(r, defPolicy);
        var slow = AlertingConfigReader.ReadSlowResponse(r);

        object? options = kind?.ReadOptions(r);
        if (kind is not null)
        {
            r.RejectUnknownFields();
        }

        if (errors.Count > before || name is null || kind is null || options is null)
        {
            return null;
        }

        return new CheckDefinition(name, kind.Name, interval, effectiveTimeout, options) { Tags = tags, Index = index, Enabled = enabled, Placement = placement, Thresholds = thresholds, Public = isPublic, Alerting = alerting, SlowResponse = slow };
    }

    /// <summary>Reads <c>failureThreshold</c> and <c>successThreshold</c> (integers 1–100) of a check or of <c>defaults</c>; a missing one keeps <paramref name="fallback"/>'s.</summary>
    private static StateThresholds ReadThresholds(ConfigObjectReader r, StateThresholds fallback)
    {
        long? failure = r.Integer("failureThreshold", StateThresholds.Min, StateThresholds.Max);
        long? success = r.Integer("successThreshold", StateThresholds.Min, StateThresholds.Max);
        return new StateThresholds((int)(failure ?? fallback.FailureThreshold), (int)(success ?? fallback.SuccessThreshold));
    }

    /// <summary>The timeout used when a check sets none: the default, but never more than 80 % of the interval.</summary>
    public static TimeSpan ImplicitTimeout(TimeSpan defaultTimeout, TimeSpan interval) =>
        defaultTimeout < interval ? defaultTimeout : interval * 0.8;

    private static TocsinConfig ReadSeed004(ConfigObjectReader root, string path)
    {
        string baseDir = Path.GetDirectoryName(path) ?? ".";
        string dbPath = root.String("local_database_path") ?? "~/.monitoring/local-database.sqlite3";
        ValidateLocalDatabase(root, "local_database_path", dbPath, baseDir);
        string? external = root.String("external_database_uri");
        ValidateExternalDatabase(root, "external_database_uri", external);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var checks = ReadItems(root, "services", "service", (item, i) => ReadSeed004Service(item, i, path, root.Errors, seen));

        root.RejectUnknownFields();
        return new TocsinConfig
        {
            SourcePath = path,
            Format = ConfigFormat.Seed004,
            LocalDatabasePath = ResolveRelative(dbPath, baseDir),
            ExternalDatabaseUri = external,
            Checks = checks,
        };
    }

    private static CheckDefinition? ReadSeed004Service(JsonElement item, int index, string path, List<ConfigError> errors, Dictionary<string, int> seen)
    {
        string location = $"services[{index}]";
        if (item.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new ConfigError(path, location, "-", ConfigObjectReader.Quote(item.GetRawText()), "each service must be a JSON object"));
            return null;
        }

        int before = errors.Count;
        var r = new ConfigObjectReader(item, path, location, errors);
        string? url = r.String("url", required: true);
        string method = r.String("method") ?? "GET";
        string? normalized = HttpCheckKind.NormalizeMethod(method, acceptSeed004Option: true);
        if (normalized is null)
        {
            r.Error("method", ConfigObjectReader.Quote(method), "allowed: GET, POST, HEAD, OPTION (seed 004), or PUT, PATCH, DELETE, OPTIONS");
        }

        Uri? uri = url is null ? null : HttpCheckKind.ValidateUrl(r, "url", url);
        bool checkRegex = r.Bool("check_regex") ?? false;
        var regex = r.Regex("regex");
        if (checkRegex && regex is null && !r.Has("regex"))
        {
            r.Error("regex", null, "is required when check_regex is true");
        }

        long intervalSec = r.Integer("interval_sec", 1, (long)MaxInterval.TotalSeconds) ?? 30;
        double timeoutSec = r.Number("timeout", 0.01, MaxInterval.TotalSeconds) ?? 10;
        var interval = TimeSpan.FromSeconds(intervalSec);
        var timeout = TimeSpan.FromSeconds(timeoutSec);

        // Seed 004 ran the next request `interval` after the previous one ended, so its sample file sets
        // timeout 15 with interval_sec 5. Tocsin runs at a fixed rate and cuts a run at the interval.
        if (timeout >= interval)
        {
            timeout = interval * 0.8;
        }

        r.RejectUnknownFields();
        string name = $"{normalized ?? method} {url}";
        if (url is not null && normalized is not null)
        {
            if (seen.TryGetValue(name, out int first))
            {
                r.Error("url", ConfigObjectReader.Quote(url), $"duplicate service: services[{first}] already checks {name}; url + method must be unique");
            }
            else
            {
                seen[name] = index;
            }
        }

        if (errors.Count > before || uri is null || normalized is null)
        {
            return null;
        }

        var options = new HttpCheckOptions
        {
            Url = uri,
            Method = normalized,
            BodyRegex = checkRegex ? regex : null,
        };
        return new CheckDefinition(name, HttpCheckKind.KindName, interval, timeout, options) { Index = index };
    }

    /// <summary>Checks that the local database path names a file: not empty, not an existing folder.</summary>
    private static void ValidateLocalDatabase(ConfigObjectReader root, string field, string value, string baseDir)
    {
        if (value.Trim().Length == 0)
        {
            root.Error(field, ConfigObjectReader.Quote(value), "must be the path of the SQLite file, e.g. ~/.tocsin/local.db (relative paths are relative to the configuration file)");
        }
        else if (Directory.Exists(ResolveRelative(value, baseDir)))
        {
            root.Error(field, ConfigObjectReader.Quote(value), "is a folder; it must be the path of the SQLite file, e.g. ~/.tocsin/local.db");
        }
    }

    /// <summary>Checks that a central database URI or key=value string can be used; the value shown in an error has its password hidden.</summary>
    private static void ValidateExternalDatabase(ConfigObjectReader root, string field, string? value)
    {
        if (value is null)
        {
            return;
        }

        try
        {
            PostgresConnectionString.ToNpgsql(value);
        }
        catch (FormatException ex)
        {
            root.Error(field, ConfigObjectReader.Quote(Secrets.RedactConnectionString(value)),
                ex.Message + "; expected postgresql://user[:password]@host[:port]/database[?sslmode=…] or Host=…;Username=…;Database=…");
        }
    }

    /// <summary>
    /// Reads the array <paramref name="field"/> of check objects (<c>checks</c>, or seed 004's <c>services</c>)
    /// element by element with its index; elements with problems give null and are left out. A field that
    /// is not an array is an error; a missing one means no checks.
    /// </summary>
    private static List<CheckDefinition> ReadItems(ConfigObjectReader root, string field, string itemNoun, Func<JsonElement, int, CheckDefinition?> read)
    {
        var checks = new List<CheckDefinition>();
        var raw = root.Raw(field);
        if (raw is { ValueKind: not JsonValueKind.Array })
        {
            root.Error(field, null, $"must be an array of {itemNoun} objects");
            return checks;
        }

        if (raw is not { } array)
        {
            return checks;
        }

        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (read(item, i++) is { } check)
            {
                checks.Add(check);
            }
        }

        return checks;
    }

    private static void ValidateUrls(ConfigObjectReader web, string urls)
    {
        foreach (string u in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(u.Replace("*", "localhost", StringComparison.Ordinal).Replace("+", "localhost", StringComparison.Ordinal), UriKind.Absolute, out var uri)
                || uri.Scheme is not ("http" or "https"))
            {
                web.Error("urls", ConfigObjectReader.Quote(u), "must be http:// or https:// URLs separated by ';', e.g. http://127.0.0.1:8080");
            }
        }
    }

    private static string ResolveRelative(string path, string baseDir)
    {
        string expanded = ExpandHome(path);
        return Path.GetFullPath(Path.IsPathRooted(expanded) ? expanded : Path.Combine(baseDir, expanded));
    }
}
