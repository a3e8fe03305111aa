using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tocsin.Alerting;
using Tocsin.Alerting.Channels;
using Tocsin.Checks.RocketChat;
using Tocsin.Configuration;

namespace Tocsin.Checks.RocketChatApps;

/// <summary>
/// The <c>rocketchat-apps</c> check kind (seed 000, with its bugs fixed): each run finds the cluster's instances, reads
/// <c>GET /api/apps/installed</c> from all of them at once, judges every app with <see cref="AppsConsistency"/>, and for a
/// drifted app sets <c>{"status":"manually_enabled"}</c> through <c>POST /api/apps/{id}/status</c> on the instances where it is
/// not enabled, re-reads to verify, and tries again (up to <c>maxAttempts</c>). Only when <see cref="CanRemediate"/> says so
/// (the leader); otherwise, and with <c>dryRun</c>, it reports what it would do. Result: OK (consistent), WARNING (drift
/// fixed and verified; disabled differently; fewer than two instances), CRITICAL (not fixed, an app missing on an instance, an
/// instance unreachable or erroring), UNKNOWN (the PAT refused, no instance found). Details list app × instance statuses and
/// the actions taken. The PAT is sent in <c>X-Auth-Token</c> and never appears in messages, details or logs.
/// </summary>
public sealed class RocketChatAppsCheckKind : ICheckKind, ICheckRunner, IImpliesNotificationChannels
{
    /// <summary>The kind's name in configuration.</summary>
    public const string KindName = "rocketchat-apps";

    private readonly HttpClient _http;
    private readonly TimeProvider _time;

    /// <summary>Creates the kind (with a shared HTTP client when <paramref name="http"/> is null).</summary>
    public RocketChatAppsCheckKind(TimeProvider time, HttpClient? http = null)
    {
        _time = time;
        _http = http ?? RocketChatHttp.Shared;
    }

    /// <summary>Whether this agent may change apps now (the leader; always true for a single agent). <value>Default: always.</value></summary>
    public Func<bool> CanRemediate { get; set; } = static () => true;

    /// <inheritdoc />
    public string Name => KindName;

    /// <inheritdoc />
    public ICheckRunner Runner => this;

    /// <inheritdoc />
    public TimeSpan? DefaultTimeout => TimeSpan.FromSeconds(30);

    /// <summary>5 minutes, the original tool's default (300000 ms).</summary>
    public TimeSpan? DefaultInterval => TimeSpan.FromMinutes(5);

    /// <summary>Only the leader runs it: it changes apps.</summary>
    public CheckPlacement DefaultPlacement => CheckPlacement.Leader;

    /// <inheritdoc />
    public string Describe(object options) => options is RocketChatAppsOptions o
        ? $"apps of {o.ServerUrl.GetLeftPart(UriPartial.Authority)} ({o.Discovery.Describe()}{(o.DryRun ? ", dry run" : "")})"
        : "";

    /// <inheritdoc />
    public object ReadOptions(ConfigObjectReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader;
        Uri? server = ReadServerUrl(r, required: true);
        string? userId = r.String("userId", required: true);
        string? pat = SecretField.Read(r, "pat", required: true);
        var appIds = r.StringList("appIds") ?? [];
        int attempts = (int)(r.Integer("maxAttempts", 1, 10) ?? 3);
        bool dryRun = r.Bool("dryRun") ?? false;
        string? room = r.String("alertRoom");
        if (room is not null && (room.Trim().Length == 0 || room.Any(char.IsWhiteSpace) || room is "#" or "@"))
        {
            r.Error("alertRoom", ConfigObjectReader.Quote(room), "must be a room id (rid) or \"#channel\", without spaces");
            room = null;
        }

        var discovery = InstanceDiscoveryOptions.Read(r);
        return server is null || userId is null || pat is null
            ? new object()
            : new RocketChatAppsOptions
            {
                ServerUrl = server, UserId = userId, Pat = pat, AppIds = appIds, AlertRoom = room, Discovery = discovery, MaxAttempts = attempts, DryRun = dryRun,
            };
    }

    /// <summary>Reads <c>serverUrl</c>: an absolute http(s) URL without credentials; null (and an error when <paramref name="required"/>) otherwise.</summary>
    internal static Uri? ReadServerUrl(ConfigObjectReader r, bool required)
    {
        if (r.String("serverUrl", required) is not { } s)
        {
            return null;
        }

        if (!Uri.TryCreate(s, UriKind.Absolute, out var server) || server.Scheme is not ("http" or "https") || server.UserInfo.Length > 0)
        {
            r.Error("serverUrl", ConfigObjectReader.Quote(s), "must be the server's http:// or https:// base URL without credentials, e.g. https://chat.example.org");
            return null;
        }

        return server;
    }

    /// <inheritdoc />
    public IEnumerable<NotificationChannelDefinition> ImpliedChannels(CheckDefinition check)
    {
        ArgumentNullException.ThrowIfNull(check);
        if (check.Options is RocketChatAppsOptions { AlertRoom: { } room } o)
        {
            yield return new NotificationChannelDefinition(
                AlertRoomChannelName(check.Name), RocketChatChannelType.TypeName,
                new RocketChatChannelOptions { Mode = RocketChatMode.Rest, ServerUrl = o.ServerUrl, UserId = o.UserId, Pat = o.Pat, Room = room }, -1);
        }
    }

    /// <summary>The name of the channel a check's <c>alertRoom</c> makes: <c>alertRoom of &lt;check&gt;</c>.</summary>
    public static string AlertRoomChannelName(string checkName) => $"alertRoom of {checkName}";

    /// <inheritdoc />
    public async Task<RunOutcome> RunAsync(CheckDefinition check, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(check);
        var o = (RocketChatAppsOptions)check.Options;
        var details = new JsonObject();
        var (instances, problem) = await InstanceDiscovery.FindAsync(_http, o.Discovery, o.ServerUrl, o.Credentials, cancellationToken).ConfigureAwait(false);
        if (problem is not null)
        {
            return new RunOutcome(CheckState.UNKNOWN, problem, null, details);
        }

        details["instances"] = new JsonArray([.. instances.Select(i => (JsonNode)new JsonObject { ["address"] = i.Address, ["id"] = i.Id })]);
        var read = await Task.WhenAll(instances.Select(i => ReadAppsAsync(o, i.Url, cancellationToken))).ConfigureAwait(false);
        if (read.Any(r => r.Error == Unauthorized))
        {
            return new RunOutcome(CheckState.UNKNOWN, "an instance refused the user id and PAT (HTTP 401/403)", null, details);
        }

        string Named(string address) => instances.FirstOrDefault(i => i.Address == address) is { Id: { } id } ? $"{address} ({id})" : address;
        var findings = AppsConsistency.Evaluate(read, o.AppIds.Count == 0 ? null : o.AppIds);
        var actions = new JsonArray();
        bool remediate = !o.DryRun && CanRemediate();
        var fixedApps = new List<string>();
        var unfixed = new List<string>();
        foreach (var f in findings.Where(f => f.ToEnable.Count > 0))
        {
            foreach (string instance in f.ToEnable)
            {
                string seen = f.Statuses.First(st => st.Instance == instance).Status ?? "missing";
                if (!remediate)
                {
                    actions.Add(new JsonObject
                    {
                        ["app"] = f.Id, ["instance"] = instance, ["seen"] = seen,
                        ["action"] = o.DryRun ? "would enable (dry run)" : "would enable (not the leader)",
                    });
                    continue;
                }

                var (ok, attempts, last) = await EnableAsync(o, new Uri(instance), f.Id, cancellationToken).ConfigureAwait(false);
                actions.Add(new JsonObject
                {
                    ["app"] = f.Id, ["instance"] = instance, ["seen"] = seen, ["action"] = "enable", ["attempts"] = attempts, ["verified"] = ok, ["status"] = last,
                });
                (ok ? fixedApps : unfixed).Add(ok
                    ? $"{f.Name} ({f.Id}) on {Named(instance)} (was {seen}, {Plural(attempts, "attempt")})"
                    : $"{f.Name} ({f.Id}) on {Named(instance)}: was {seen}, still {last ?? "unknown"} after {Plural(attempts, "attempt")}");
            }
        }

        details["apps"] = new JsonArray([.. findings.Select(f => (JsonNode)new JsonObject
        {
            ["id"] = f.Id,
            ["name"] = f.Name,
            ["verdict"] = f.Verdict.ToString(),
            ["statuses"] = new JsonObject([.. f.Statuses.Select(s => new KeyValuePair<string, JsonNode?>(s.Instance, s.Status))]),
        })]);
        details["actions"] = actions;
        var unreachable = read.Where(r => r.Apps is null).Select(r => $"{Named(r.Instance)}: {r.Error}").ToList();
        var missing = findings.Where(f => f.Verdict == AppVerdict.Missing)
            .Select(f => $"{f.Name} ({f.Id}) not on {string.Join(", ", f.Statuses.Where(s => s.Status is null).Select(s => Named(s.Instance)))}").ToList();
        var differently = findings.Where(f => f.Verdict == AppVerdict.DisabledDifferently).Select(f => $"{f.Name} ({f.Id})").ToList();
        var pending = findings.Where(f => f.ToEnable.Count > 0 && !remediate)
            .Select(f => $"{f.Name} ({f.Id}) on {string.Join(", ", f.ToEnable.Select(i => $"{Named(i)} ({f.Statuses.First(s => s.Instance == i).Status})"))}").ToList();

        var parts = new List<string>();
        var state = CheckState.OK;
        void Add(CheckState s, string text)
        {
            state = CheckStates.Worst(state, s);
            parts.Add(text);
        }

        if (unreachable.Count > 0)
        {
            Add(CheckState.CRITICAL, $"unreachable: {string.Join("; ", unreachable)}");
        }

        if (unfixed.Count > 0)
        {
            Add(CheckState.CRITICAL, $"could not enable {string.Join("; ", unfixed)}");
        }

        if (missing.Count > 0)
        {
            Add(CheckState.CRITICAL, $"missing: {string.Join("; ", missing)}");
        }

        if (pending.Count > 0)
        {
            // Only when this run may not change apps (dry run, or another agent leads): reported, not a failure of the cluster.
            Add(CheckState.WARNING, $"drift{(o.DryRun ? " (dry run, not fixed)" : " (another agent fixes it)")}: {string.Join("; ", pending)}");
        }

        if (fixedApps.Count > 0)
        {
            Add(CheckState.WARNING, $"drift fixed and verified: enabled {string.Join("; ", fixedApps)}");
        }

        if (differently.Count > 0)
        {
            Add(CheckState.WARNING, $"disabled differently across instances (left alone): {string.Join(", ", differently)}");
        }

        int readable = read.Count(r => r.Apps is not null);
        if (readable < 2)
        {
            Add(CheckState.WARNING, $"only {readable} instance(s) could be read: nothing to compare");
        }

        string summary = $"{findings.Count} app(s) on {readable} instance(s)";
        return new RunOutcome(state, parts.Count == 0 ? $"{summary}: consistent" : $"{summary}: {string.Join("; ", parts)}", null, details);
    }

    private static string Plural(int n, string word) => n == 1 ? $"1 {word}" : $"{n} {word}s";

    private const string Unauthorized = "HTTP 401/403";

    private async Task<InstanceApps> ReadAppsAsync(RocketChatAppsOptions o, Uri instance, CancellationToken ct)
    {
        string name = instance.GetLeftPart(UriPartial.Authority);
        try
        {
            using var doc = await RocketChatHttp.WithTimeoutAsync(
                t => RocketChatHttp.GetJsonAsync(_http, new Uri(instance, "api/apps/installed"), o.Credentials, t), o.Discovery.InstanceTimeout, _time, ct).ConfigureAwait(false);
            if (!doc.RootElement.TryGetProperty("apps", out var apps) || apps.ValueKind != JsonValueKind.Array)
            {
                return new InstanceApps(name, null, "answered without an \"apps\" array");
            }

            var list = new List<InstalledApp>();
            foreach (var a in apps.EnumerateArray())
            {
                if (RocketChatHttp.Str(a, "id") is { } id)
                {
                    list.Add(new InstalledApp(id, RocketChatHttp.Str(a, "name") ?? id, RocketChatHttp.Str(a, "status") ?? "unknown"));
                }
            }

            return new InstanceApps(name, list);
        }
        catch (RocketChatAuthException)
        {
            return new InstanceApps(name, null, Unauthorized);
        }
        catch (RocketChatFetchException ex)
        {
            return new InstanceApps(name, null, ex.Message);
        }
    }

    private async Task<(bool Ok, int Attempts, string? Last)> EnableAsync(RocketChatAppsOptions o, Uri instance, string appId, CancellationToken ct)
    {
        string? last = null;
        for (int attempt = 1; attempt <= o.MaxAttempts; attempt++)
        {
            try
            {
                using var request = RocketChatHttp.Request(HttpMethod.Post, new Uri(instance, $"api/apps/{Uri.EscapeDataString(appId)}/status"), o.Credentials);
                request.Content = new StringContent("""{"status":"manually_enabled"}""", Encoding.UTF8, "application/json");
                using var response = await RocketChatHttp.WithTimeoutAsync(t => _http.SendAsync(request, t), o.Discovery.InstanceTimeout, _time, ct).ConfigureAwait(false);

                // Whatever the POST answered, the instance's own list says whether it worked (an instance may answer 200 and
                // not change, or fail and change anyway).
                var apps = await ReadAppsAsync(o, instance, ct).ConfigureAwait(false);
                last = apps.Apps?.FirstOrDefault(a => a.Id == appId)?.Status ?? apps.Error;
                if (AppStatuses.IsEnabled(last))
                {
                    return (true, attempt, last);
                }

                if (!response.IsSuccessStatusCode)
                {
                    last = $"{last} (the status change answered HTTP {(int)response.StatusCode})";
                }
            }
            catch (HttpRequestException ex)
            {
                last = $"cannot reach: {ex.HttpRequestError}";
            }
            catch (RocketChatFetchException ex)
            {
                last = ex.Message;
            }

            if (attempt < o.MaxAttempts)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250 << (attempt - 1)), _time, ct).ConfigureAwait(false);
            }
        }

        return (false, o.MaxAttempts, last);
    }
}
