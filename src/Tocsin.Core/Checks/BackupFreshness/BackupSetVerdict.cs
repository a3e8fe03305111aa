using System.Globalization;
using System.Text.Json.Nodes;
using Tocsin.Checks.Command;
using Tocsin.Configuration;

namespace Tocsin.Checks.BackupFreshness;

/// <summary>
/// Judges a backup set at a moment (seed 001: "a healthy backup set has its newest dump younger than one schedule period plus
/// a grace, and no more than keep dumps"). The time of a dump is the one in its name; names are authoritative (the files'
/// modification times are not read).
/// <list type="number">
/// <item><b>The dump judged</b>: the newest one, except that with <c>minSize</c> a newest dump still under it and younger
/// than <c>grace</c> is taken as still being written: it is reported, and the one before it is judged (at most
/// <see cref="MaxInProgress"/> are passed over).</item>
/// <item><b>Fresh</b>, with <c>maxAge</c>: its age is at most <c>maxAge</c>. With <c>schedule</c>: let <i>R</i> be the last run
/// whose time + <c>grace</c> has passed (now &gt; <i>R</i> + grace) and <i>P</i> the run before it; the dump must stand
/// for <i>R</i> or a later run, where a dump stands for the run nearest to its time: its time must be at least
/// <i>R</i> − (<i>R</i> − <i>P</i>)/2. So a dump named a little before its run (clock skew, names without seconds) still
/// counts, and yesterday's dump no longer does once today's run + grace has passed. For seed 001 (<c>1 0 * * *</c>,
/// grace 1 h) the dump of day D must exist from D 01:01:00 on. Before any run is due, freshness holds.</item>
/// <item><b>State</b>: CRITICAL when no dump matches, when the dump judged is not fresh, or is under <c>minSize</c> (likely a
/// failed or cut dump), or when the folder is missing, is a file, or cannot be read (I/O error); UNKNOWN when the agent
/// may not read the folder (permission denied: the backups may be fine, the monitoring is not); WARNING when there are
/// more dumps than <c>keep</c> (one more is allowed while the newest is younger than <c>grace</c>: jobs delete the oldest
/// after writing the new one), when the dump judged is dated more than <see cref="FutureTolerance"/> in the future (a
/// wrong <c>timeZone</c>), when its size could not be counted, or when the folder has more than
/// <see cref="BackupFolder.MaxEntries"/> entries; else OK.</item>
/// </list>
/// Message, e.g. <c>newest dump-2026-12-03-00:01:12 is 11h20m old, in time for the run of 2026-12-03T00:01:00Z (cron 1 0 * * *
/// (UTC) + 1h grace); 7 dumps (keep 7)</c>. Details: <c>path</c>, <c>pattern</c>, <c>timeZone</c>, <c>newest</c>
/// <c>{name, time, ageSeconds, type, sizeBytes, sizeExact, sizeProblem?}</c> (the dump judged), <c>inProgress</c>
/// <c>[{name, time, sizeBytes}]</c>, <c>count</c>, <c>keep</c>, <c>ignored</c>, <c>ignoredNames</c> (first
/// <see cref="BackupFolder.MaxIgnoredNames"/>), <c>dumps</c> <c>[{name, time, type}]</c> (newest <see cref="MaxListed"/>),
/// <c>maxAgeSeconds</c> or <c>lastRunDue</c> and <c>dumpExpectedSince</c>, <c>perfdata</c> (<c>newest_age</c> s,
/// <c>dumps</c>, <c>newest_size</c> B) in the shape of <see cref="PerfdataItem.ToJson"/>. Times are ISO-8601 UTC.
/// </summary>
public static class BackupSetVerdict
{
    /// <summary>Most dumps listed in the details (the newest).</summary>
    public const int MaxListed = 50;

    /// <summary>Most dumps passed over as still being written before one is judged.</summary>
    public const int MaxInProgress = 5;

    /// <summary>How far in the future a dump's time may be before it is reported (clocks differ a little).</summary>
    public static readonly TimeSpan FutureTolerance = TimeSpan.FromMinutes(5);

    /// <summary>The outcome for <paramref name="listing"/> at <paramref name="now"/> (see the class remarks).</summary>
    /// <param name="options">The check's options.</param>
    /// <param name="listing">What <see cref="BackupFolder.List"/> found.</param>
    /// <param name="measure">Sizes a dump, stopping once past the given bytes (null: count all); called for the newest
    /// dumps only (one without <c>minSize</c>, at most <see cref="MaxInProgress"/> + 1 with it).</param>
    /// <param name="now">The moment judged (UTC).</param>
    public static RunOutcome Evaluate(BackupFreshnessOptions options, BackupListing listing, Func<Dump, long?, DumpSize> measure, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(listing);
        ArgumentNullException.ThrowIfNull(measure);
        var o = options;
        var details = new JsonObject { ["path"] = o.Path, ["pattern"] = o.Pattern.ToString(), ["timeZone"] = o.TimeZone.Id };
        if (listing.Problem != FolderProblem.None)
        {
            string text = listing.ProblemText ?? listing.Problem.ToString();
            return listing.Problem == FolderProblem.PermissionDenied
                ? new RunOutcome(CheckState.UNKNOWN, $"{text}: give the agent read access to the backup folder", null, details)
                : new RunOutcome(CheckState.CRITICAL, listing.Problem == FolderProblem.Missing ? $"{text}: no backups there (volume not mounted?)" : text, null, details);
        }

        var dumps = listing.Dumps;
        details["count"] = dumps.Count;
        details["keep"] = o.Keep;
        details["ignored"] = listing.Ignored;
        if (listing.IgnoredNames.Count > 0)
        {
            details["ignoredNames"] = new JsonArray([.. listing.IgnoredNames.Select(n => (JsonNode)n)]);
        }

        details["dumps"] = new JsonArray([.. dumps.Take(MaxListed).Select(d => (JsonNode)new JsonObject { ["name"] = d.Name, ["time"] = Iso(d.Time), ["type"] = Type(d) })]);
        var perfdata = new JsonArray();
        details["perfdata"] = perfdata;
        var state = CheckState.OK;
        var parts = new List<string>();
        void Add(CheckState s, string text)
        {
            state = CheckStates.Worst(state, s);
            parts.Add(text);
        }

        // The dump judged: the newest, passing over dumps still being written (under minSize and younger than the grace).
        Dump? judged = null;
        DumpSize size = default;
        var inProgress = new List<(Dump Dump, long Bytes)>();
        foreach (var d in dumps)
        {
            size = measure(d, o.MinSize);
            if (o.MinSize is { } min && size.Bytes < min && size.Problem is null && now - d.Time < o.Grace && inProgress.Count < MaxInProgress)
            {
                inProgress.Add((d, size.Bytes));
                continue;
            }

            judged = d;
            break;
        }

        var (fresh, freshness, limit) = JudgeFreshness(o, judged, now, details);
        if (judged is null)
        {
            string what = inProgress.Count > 0 ? $"no complete dump in {o.Path}" : $"no dump in {o.Path} named {o.Pattern}";
            string ignored = listing.Ignored > 0 ? $" ({listing.Ignored} other entries ignored, e.g. {ConfigObjectReader.Quote(listing.IgnoredNames[0])})" : "";
            Add(CheckState.CRITICAL, what + ignored);
        }
        else
        {
            var age = now - judged.Time;
            string head = age >= TimeSpan.Zero ? $"newest {judged.Name} is {Span(age)} old" : $"newest {judged.Name} is dated {Span(-age)} in the future";
            Add(fresh ? CheckState.OK : CheckState.CRITICAL, fresh ? $"{head}{freshness}" : $"{freshness}: {head}");
            details["newest"] = Newest(judged, size, age);
            perfdata.Add(new PerfdataItem("newest_age", Math.Floor(age.TotalSeconds), "s", null, limit, 0, null).ToJson());
            if (-age > FutureTolerance)
            {
                Add(CheckState.WARNING, $"{judged.Name} is dated {Iso(judged.Time)}, in the future: check the timeZone option ({o.TimeZone.Id}) and the clocks");
            }
        }

        if (inProgress.Count > 0)
        {
            details["inProgress"] = new JsonArray([.. inProgress.Select(p => (JsonNode)new JsonObject { ["name"] = p.Dump.Name, ["time"] = Iso(p.Dump.Time), ["sizeBytes"] = p.Bytes })]);
            var (first, bytes) = inProgress[0];
            string more = inProgress.Count > 1 ? $" and {inProgress.Count - 1} more" : "";
            Add(CheckState.OK, $"{first.Name}{more} still being written ({ByteSize.Format(bytes)} so far, under minSize {ByteSize.Format(o.MinSize ?? 0)}, younger than the {Duration.Format(o.Grace)} grace)");
        }

        if (judged is not null && o.MinSize is { } minSize)
        {
            perfdata.Add(new PerfdataItem("newest_size", size.Bytes, "B", null, string.Create(CultureInfo.InvariantCulture, $"{minSize}:"), 0, null).ToJson());
            if (size.Bytes < minSize)
            {
                Add(size.Problem is null ? CheckState.CRITICAL : CheckState.WARNING, size.Problem is null
                    ? $"{judged.Name} is {ByteSize.Format(size.Bytes)}, under minSize {ByteSize.Format(minSize)}: likely a failed dump"
                    : $"size of {judged.Name} unknown ({ByteSize.Format(size.Bytes)} counted): {size.Problem}");
            }
        }

        int allowed = o.Keep is { } keep ? keep + (dumps.Count > 0 && now - dumps[0].Time < o.Grace ? 1 : 0) : int.MaxValue;
        perfdata.Add(new PerfdataItem("dumps", dumps.Count, null, o.Keep?.ToString(CultureInfo.InvariantCulture), null, 0, null).ToJson());
        if (dumps.Count > allowed)
        {
            Add(CheckState.WARNING, $"{dumps.Count} dumps, more than keep {o.Keep}: old dumps are not deleted");
        }
        else if (dumps.Count > 0)
        {
            string counted = dumps.Count == 1 ? "1 dump" : $"{dumps.Count} dumps";
            Add(CheckState.OK, o.Keep is null ? counted : $"{counted} (keep {o.Keep})");
        }

        if (listing.Truncated)
        {
            Add(CheckState.WARNING, $"stopped reading after {BackupFolder.MaxEntries} entries: newer dumps may not have been seen");
        }

        return new RunOutcome(state, string.Join("; ", parts), null, details);
    }

    /// <summary>
    /// Whether <paramref name="judged"/> is fresh enough; the text to say so (appended to "newest … is … old" when fresh, put
    /// before it when not) and the age limit in seconds now (perfdata's critical threshold).
    /// </summary>
    private static (bool Fresh, string Text, string? Limit) JudgeFreshness(BackupFreshnessOptions o, Dump? judged, DateTimeOffset now, JsonObject details)
    {
        if (o.Schedule is not { } schedule)
        {
            var maxAge = o.MaxAge ?? TimeSpan.Zero;
            details["maxAgeSeconds"] = (long)maxAge.TotalSeconds;
            bool fresh = judged is not null && now - judged.Time <= maxAge;
            string text = fresh ? $" (max {Span(maxAge)})" : judged is null ? $"max age {Span(maxAge)}" : $"older than the max age {Span(maxAge)}";
            return (fresh, text, Seconds(maxAge));
        }

        if (schedule.Previous(now - o.Grace) is not { } due)
        {
            return (true, $" (no run of {o.Expectation} due yet)", null);
        }

        // A dump stands for the run nearest to its time: it counts for `due` from halfway after the run before.
        var since = schedule.Previous(due) is { } before ? due - ((due - before) / 2) : due;
        details["lastRunDue"] = Iso(due);
        details["dumpExpectedSince"] = Iso(since);
        return judged is not null && judged.Time >= since
            ? (true, $", in time for the run of {Iso(due)} ({o.Expectation})", Seconds(now - since))
            : (false, $"no dump for the run of {Iso(due)} ({o.Expectation})", Seconds(now - since));
    }

    private static JsonObject Newest(Dump d, DumpSize size, TimeSpan age)
    {
        var newest = new JsonObject
        {
            ["name"] = d.Name,
            ["time"] = Iso(d.Time),
            ["ageSeconds"] = (long)Math.Floor(age.TotalSeconds),
            ["type"] = Type(d),
            ["sizeBytes"] = size.Bytes,
            ["sizeExact"] = size.Exact,
        };
        if (size.Problem is { } problem)
        {
            newest["sizeProblem"] = problem;
        }

        return newest;
    }

    private static string Type(Dump d) => d.IsDirectory ? "directory" : "file";

    private static string Seconds(TimeSpan t) => ((long)Math.Floor(t.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    /// <summary>A UTC time to the second, e.g. <c>2026-12-03T00:01:00Z</c>.</summary>
    private static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>An age for people: to the minute from one hour on (<c>11h20m</c>, <c>1d1h</c>), else to the second (<c>42m5s</c>).</summary>
    private static string Span(TimeSpan t)
    {
        var unit = t >= TimeSpan.FromHours(1) ? TimeSpan.FromMinutes(1) : TimeSpan.FromSeconds(1);
        return Duration.Format(TimeSpan.FromTicks(t.Ticks / unit.Ticks * unit.Ticks));
    }
}