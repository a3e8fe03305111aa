using System.Runtime.InteropServices;
using Tocsin.Configuration;
using Tocsin.Scheduling;

namespace Tocsin.Checks.Command;

/// <summary>
/// Where a check made from a promise directory came from, and what its <c>&lt;name&gt;.cfg</c> said (seed 003).
/// </summary>
/// <param name="Directory">The promise directory (absolute).</param>
/// <param name="Path">The promise's path in it (absolute; a symbolic link is kept as the link, as seed 003 ran it).</param>
/// <param name="ConfigPath">The <c>.cfg</c> beside it, or null when there is none.</param>
/// <param name="Title">The <c>.cfg</c>'s <c>title</c>, or null.</param>
/// <param name="PublicPaths">The <c>.cfg</c>'s <c>public-path-list</c> (absolute paths; empty when none), to serve under <c>/public/&lt;name&gt;/</c>.</param>
/// <param name="PrivatePaths">The <c>.cfg</c>'s <c>private-path-list</c> (absolute paths; empty when none), to serve under <c>/private/&lt;name&gt;/</c>.</param>
public sealed record PromiseSource(
    string Directory, string Path, string? ConfigPath, string? Title, IReadOnlyList<string> PublicPaths, IReadOnlyList<string> PrivatePaths)
{
    /// <summary>Whether both describe the same promise with the same settings (lists compared by content).</summary>
    public bool SameAs(PromiseSource? other) =>
        other is not null && Directory == other.Directory && Path == other.Path && ConfigPath == other.ConfigPath && Title == other.Title
        && PublicPaths.SequenceEqual(other.PublicPaths, StringComparer.Ordinal) && PrivatePaths.SequenceEqual(other.PrivatePaths, StringComparer.Ordinal);
}

/// <summary>What one scan of the promise directories found.</summary>
/// <param name="Checks">One <c>command</c> check per promise, directories in configuration order, files by ordinal name; a promise
/// whose <c>.cfg</c> is bad is there, disabled with its <see cref="CheckDefinition.DisabledReason"/>.</param>
/// <param name="Problems">What was left out and why (a missing directory, a name taken by an earlier directory, a file name no check can have).</param>
public sealed record PromiseScan(IReadOnlyList<CheckDefinition> Checks, IReadOnlyList<string> Problems);

/// <summary>
/// Reads seed 003's promise directories (<c>etc/monitor-promise/</c>, config <c>promiseDirectories</c>) into <c>command</c> checks.
/// <para>A promise is a directory entry that is an executable regular file for the agent's user (seed 003's
/// <c>os.path.isfile(path) and os.access(path, os.X_OK)</c>, so a symbolic link to an executable file anywhere counts, and
/// runs through the link), whose name does not start with <c>.</c> (editors' and <c>rsync</c>'s temporary files) nor end
/// with <c>.cfg</c>. Sub-directories, non-executable files and broken links are ignored.</para>
/// <para>The check: named after the file, kind <c>command</c>, the file run with no arguments and no shell, tag
/// <c>promise</c>, placement <c>all</c> (the files are local to each agent, so each agent runs its own), timeout
/// <see cref="CommandCheckKind.DefaultCommandTimeout"/> cut to 80 % of the nominal interval.</para>
/// <para>Its <c>&lt;name&gt;.cfg</c> (<see cref="IniDocument"/>, section <c>[service]</c>, keys <c>title</c>, <c>frequency</c>,
/// <c>public-path-list</c>, <c>private-path-list</c>) sets the schedule: <c>frequency</c>, a 5-field cron expression in the
/// configured time zone; without one, <see cref="DefaultFrequency"/> (<c>* * * * *</c>, every minute: what seed 003's monitor
/// wrote into its crontab when a promise had none). Path lists are split on commas and white space (seed 003 split on white
/// space); relative paths are resolved against the promise directory. A <c>.cfg</c> that cannot be read, has no <c>[service]</c>
/// section, another section, an unknown key or an invalid cron disables that one check, with the reason.</para>
/// </summary>
public static class PromiseDirectory
{
    /// <summary>The tag of every check made from a promise.</summary>
    public const string Tag = "promise";

    /// <summary>The schedule of a promise whose <c>.cfg</c> sets no <c>frequency</c>: every minute, as seed 003's crontab.</summary>
    public const string DefaultFrequency = "* * * * *";

    /// <summary>The keys a <c>.cfg</c>'s <c>[service]</c> section may hold.</summary>
    public static readonly IReadOnlyList<string> ConfigKeys = ["title", "frequency", "public-path-list", "private-path-list"];

    private const string ConfigSuffix = ".cfg";
    private const int MaxNameLength = 200;

    /// <summary>Scans <paramref name="directories"/> in order; a name found in an earlier directory wins.</summary>
    /// <param name="directories">Absolute directory paths.</param>
    /// <param name="zone">The time zone of <c>frequency</c> expressions.</param>
    /// <param name="now">Now (UTC), to find the nominal interval of each schedule.</param>
    public static PromiseScan Scan(IReadOnlyList<string> directories, TimeZoneInfo zone, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(directories);
        var checks = new List<CheckDefinition>();
        var problems = new List<string>();
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string directory in directories)
        {
            string[] entries;
            try
            {
                entries = Directory.GetFileSystemEntries(directory);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                problems.Add($"promise directory {directory} cannot be read: {ex.Message}");
                continue;
            }

            Array.Sort(entries, StringComparer.Ordinal);
            foreach (string path in entries)
            {
                string name = Path.GetFileName(path);
                if (name.StartsWith('.') || name.EndsWith(ConfigSuffix, StringComparison.Ordinal) || !IsExecutableFile(path))
                {
                    continue;
                }

                if (name.Length > MaxNameLength || name.Any(char.IsControl) || name.Trim() != name)
                {
                    problems.Add($"promise {Quote(path)} is ignored: a check name must be 1 to {MaxNameLength} characters, without control characters or surrounding spaces");
                    continue;
                }

                if (seen.TryGetValue(name, out string? first))
                {
                    problems.Add($"promise {path} is ignored: {Path.Join(first, name)} already makes a check named \"{name}\" (the first directory wins)");
                    continue;
                }

                seen[name] = directory;
                checks.Add(Read(directory, name, zone, now));
            }
        }

        return new PromiseScan(checks, problems);
    }

    /// <summary>
    /// The check of promise <paramref name="name"/> in <paramref name="directory"/> (which must be an executable file): enabled
    /// with its <c>.cfg</c>'s settings, or disabled with the reason when the <c>.cfg</c> is bad.
    /// </summary>
    public static CheckDefinition Read(string directory, string name, TimeZoneInfo zone, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(zone);
        string path = Path.Join(directory, name);
        string configPath = path + ConfigSuffix;
        string? title = null;
        IReadOnlyList<string> publicPaths = [], privatePaths = [];
        string frequency = DefaultFrequency;
        string? reason = null;
        bool hasConfig = File.Exists(configPath);
        if (hasConfig)
        {
            try
            {
                var service = ReadConfig(configPath);
                title = service.GetValueOrDefault("title") is { Length: > 0 } t ? t : null;
                publicPaths = SplitPaths(service.GetValueOrDefault("public-path-list"), directory);
                privatePaths = SplitPaths(service.GetValueOrDefault("private-path-list"), directory);
                if (service.GetValueOrDefault("frequency") is { } f && f.Trim().Length > 0)
                {
                    frequency = f;
                }
            }
            catch (FormatException ex)
            {
                reason = $"{configPath}: {ex.Message}";
            }
        }

        CronSchedule? schedule = null;
        TimeSpan? interval = null;
        if (reason is null)
        {
            try
            {
                schedule = CronSchedule.Parse(frequency, zone);
                interval = schedule.NominalInterval(now);
                if (interval is null)
                {
                    reason = $"{configPath}: frequency {Quote(frequency)} never fires (again)";
                }
            }
            catch (FormatException ex)
            {
                reason = $"{configPath}: frequency {Quote(frequency)} is not a 5-field cron expression (minute hour day-of-month month day-of-week): {ex.Message}";
            }
        }

        var nominal = interval ?? TimeSpan.FromMinutes(1);
        var options = new CommandCheckOptions([path], false, null, new Dictionary<string, string>(StringComparer.Ordinal));
        return new CheckDefinition(name, CommandCheckKind.KindName, nominal, ConfigLoader.ImplicitTimeout(CommandCheckKind.DefaultCommandTimeout, nominal), options)
        {
            Tags = [Tag],
            Placement = CheckPlacement.All,
            Schedule = reason is null ? schedule : null,
            Enabled = reason is null,
            DisabledReason = reason,
            Promise = new PromiseSource(directory, path, hasConfig ? configPath : null, title, publicPaths, privatePaths),
        };
    }

    /// <summary>Whether two promise checks are the same (name, command, schedule, timeout, enabled, reason and <see cref="PromiseSource"/>).</summary>
    public static bool Same(CheckDefinition a, CheckDefinition b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return a.Name == b.Name && a.Kind == b.Kind && a.Interval == b.Interval && a.Timeout == b.Timeout && a.Enabled == b.Enabled
            && a.DisabledReason == b.DisabledReason && Equals(a.Schedule, b.Schedule) && a.Tags.SequenceEqual(b.Tags, StringComparer.Ordinal)
            && a.Placement == b.Placement && (a.Promise is null ? b.Promise is null : a.Promise.SameAs(b.Promise))
            && a.Options is CommandCheckOptions oa && b.Options is CommandCheckOptions ob && oa.Command.SequenceEqual(ob.Command, StringComparer.Ordinal);
    }

    /// <summary>
    /// Whether <paramref name="path"/> is a regular file (after following symbolic links) that the agent's user may execute
    /// (<c>access(2)</c> with <c>X_OK</c>).
    /// </summary>
    public static bool IsExecutableFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            FileSystemInfo info = new FileInfo(path);
            if (info.LinkTarget is not null)
            {
                info = info.ResolveLinkTarget(returnFinalTarget: true) ?? info;
                info.Refresh();
            }

            return info is FileInfo { Exists: true } && Access(path, XOk) == 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Reads a <c>.cfg</c>'s <c>[service]</c> section, strictly.</summary>
    /// <exception cref="FormatException">When it cannot be read, is not INI, has no <c>[service]</c>, another section or an unknown key.</exception>
    internal static IReadOnlyDictionary<string, string> ReadConfig(string configPath)
    {
        string text;
        try
        {
            text = File.ReadAllText(configPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new FormatException($"cannot be read: {ex.Message}", ex);
        }

        var ini = IniDocument.Parse(text);
        if (ini.SectionNames.FirstOrDefault(s => s != "service") is { } other)
        {
            throw new FormatException($"unknown section [{other}]; a promise's .cfg holds only [service]");
        }

        var service = ini.Section("service") ?? throw new FormatException("has no [service] section (expected [service] with title, frequency, public-path-list, private-path-list)");
        if (service.Keys.FirstOrDefault(k => !ConfigKeys.Contains(k)) is { } unknown)
        {
            throw new FormatException($"unknown key \"{unknown}\" in [service]; allowed: {string.Join(", ", ConfigKeys)}");
        }

        return service;
    }

    private static string[] SplitPaths(string? list, string directory) =>
        list is null
            ? []
            : [.. list.Split([',', ' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(p => Path.GetFullPath(ConfigLoader.ExpandHome(p), directory))];

    private static string Quote(string s) => ConfigObjectReader.Quote(s);

    private const int XOk = 1;

    [DllImport("libc", EntryPoint = "access", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Access([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int mode);
}
