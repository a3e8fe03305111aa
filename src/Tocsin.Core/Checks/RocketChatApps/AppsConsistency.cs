namespace Tocsin.Checks.RocketChatApps;

/// <summary>Rocket.Chat app status values (seed 000; Rocket.Chat's <c>AppStatus</c>) and which count as enabled.</summary>
public static class AppStatuses
{
    /// <summary><c>auto_enabled</c>: enabled by the server (at start-up). Enabled.</summary>
    public const string AutoEnabled = "auto_enabled";

    /// <summary><c>manually_enabled</c>: enabled by an administrator. Enabled; what a fix sets.</summary>
    public const string ManuallyEnabled = "manually_enabled";

    /// <summary>Every status value Rocket.Chat reports, in its order.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        "unknown", "constructed", "initialized", AutoEnabled, ManuallyEnabled, "compiler_error_disabled", "invalid_license_disabled",
        "invalid_installation_disabled", "error_disabled", "manually_disabled", "invalid_settings_disabled", "disabled",
    ];

    /// <summary>
    /// Whether <paramref name="status"/> is enabled: <c>auto_enabled</c> or <c>manually_enabled</c> (the original counted only
    /// <c>manually_enabled</c>, and "fixed" <c>auto_enabled</c> instances).
    /// </summary>
    public static bool IsEnabled(string? status) => status is AutoEnabled or ManuallyEnabled;
}

/// <summary>One app as one instance reports it in <c>GET /api/apps/installed</c>.</summary>
/// <param name="Id">The app's id.</param>
/// <param name="Name">Its name.</param>
/// <param name="Status">Its status on that instance (see <see cref="AppStatuses"/>).</param>
public sealed record InstalledApp(string Id, string Name, string Status);

/// <summary>What one instance answered: its apps, or why none could be read.</summary>
/// <param name="Instance">The instance's address, e.g. <c>http://10.0.0.5:3000</c>.</param>
/// <param name="Apps">The apps it reported, or null when it could not be read.</param>
/// <param name="Error">Why it could not be read (unreachable, HTTP status, bad JSON), or null.</param>
public sealed record InstanceApps(string Instance, IReadOnlyList<InstalledApp>? Apps, string? Error = null);

/// <summary>What is true of one app across the instances.</summary>
public enum AppVerdict
{
    /// <summary>The same status on every instance read (whatever it is): nothing to do.</summary>
    Consistent,
    /// <summary>Enabled on at least one instance and not on others where it is installed: enable it there.</summary>
    Drifted,
    /// <summary>Not enabled anywhere, but not disabled the same way everywhere: reported, not changed (nothing says it should run).</summary>
    DisabledDifferently,
    /// <summary>Missing on an instance where others have it: reported, cannot be fixed by a status change.</summary>
    Missing,
}

/// <summary>One app's finding.</summary>
/// <param name="Id">App id.</param>
/// <param name="Name">App name (from the first instance that has it).</param>
/// <param name="Verdict">What is true of it.</param>
/// <param name="Statuses">Its status per instance read (null where it is not installed), in instance order.</param>
/// <param name="ToEnable">Instances where it should be set to <c>manually_enabled</c> (for <see cref="AppVerdict.Drifted"/>), in instance order.</param>
public sealed record AppFinding(string Id, string Name, AppVerdict Verdict, IReadOnlyList<(string Instance, string? Status)> Statuses, IReadOnlyList<string> ToEnable);

/// <summary>
/// The consistency rules of the <c>rocketchat-apps</c> check (seed 000, with its bugs fixed), pure: compares the apps every
/// instance reported. An app is <b>consistent</b> when its status is the same on every instance read; <b>drifted</b> when it is
/// enabled (<c>auto_enabled</c> or <c>manually_enabled</c>) on at least one instance and installed but not enabled on others —
/// those get <c>manually_enabled</c>; an app enabled everywhere, some <c>auto_</c> and some <c>manually_</c>, is consistent and
/// left alone; an app disabled the same way everywhere is intended and left alone; one disabled in different ways and
/// enabled nowhere is reported, not changed; one missing on an instance is reported (a status change cannot install it).
/// Instances that could not be read take no part (the caller reports them).
/// </summary>
public static class AppsConsistency
{
    /// <summary>The finding of every app reported by a readable instance (or only of <paramref name="appIds"/> when given), by app id.</summary>
    public static IReadOnlyList<AppFinding> Evaluate(IReadOnlyList<InstanceApps> instances, IReadOnlyCollection<string>? appIds = null)
    {
        ArgumentNullException.ThrowIfNull(instances);
        var readable = instances.Where(i => i.Apps is not null).ToList();
        var ids = readable.SelectMany(i => i.Apps!).Select(a => a.Id).Distinct(StringComparer.Ordinal)
            .Where(id => appIds is null || appIds.Contains(id)).Order(StringComparer.Ordinal).ToList();
        var findings = new List<AppFinding>(ids.Count);
        foreach (string id in ids)
        {
            var statuses = readable.Select(i => (i.Instance, i.Apps!.FirstOrDefault(a => a.Id == id)?.Status)).ToList();
            string name = readable.SelectMany(i => i.Apps!).First(a => a.Id == id).Name;
            AppVerdict verdict;
            List<string> toEnable = [];
            if (statuses.Any(s => s.Status is null))
            {
                verdict = AppVerdict.Missing;
                if (statuses.Any(s => AppStatuses.IsEnabled(s.Status)))
                {
                    // Where it is installed, it can still be made consistent with the enabled ones.
                    toEnable = [.. statuses.Where(s => s.Status is not null && !AppStatuses.IsEnabled(s.Status)).Select(s => s.Instance)];
                }
            }
            else if (statuses.All(s => AppStatuses.IsEnabled(s.Status)) || statuses.Select(s => s.Status).Distinct(StringComparer.Ordinal).Count() == 1)
            {
                verdict = AppVerdict.Consistent;
            }
            else if (statuses.Any(s => AppStatuses.IsEnabled(s.Status)))
            {
                verdict = AppVerdict.Drifted;
                toEnable = [.. statuses.Where(s => !AppStatuses.IsEnabled(s.Status)).Select(s => s.Instance)];
            }
            else
            {
                verdict = AppVerdict.DisabledDifferently;
            }

            findings.Add(new AppFinding(id, name, verdict, statuses, toEnable));
        }

        return findings;
    }
}
