namespace Tocsin.Checks;

/// <summary>
/// One immutable view of every check the agent knows: the configuration file's, then those discovered at run time
/// (promise directories).
/// </summary>
/// <param name="Version">Starts at 1 and grows by one at each change.</param>
/// <param name="Checks">Configured checks in file order, then discovered ones; names are unique. <see cref="CheckDefinition.Index"/> is the position.</param>
/// <param name="Problems">Discovered checks left out and why (e.g. a promise named like a configured check), for logs and diagnostics.</param>
public sealed record CheckCatalogSnapshot(long Version, IReadOnlyList<CheckDefinition> Checks, IReadOnlyList<string> Problems)
{
    private readonly Dictionary<string, CheckDefinition> _byName = Checks.ToDictionary(c => c.Name, StringComparer.Ordinal);

    /// <summary>The check named <paramref name="name"/> (ordinal), or null.</summary>
    public CheckDefinition? Find(string name) => _byName.GetValueOrDefault(name);
}

/// <summary>
/// The set of checks, which may change while the agent runs: the configured checks are fixed, the discovered ones
/// (from promise directories) are replaced by <see cref="SetDiscovered"/>. Readers take <see cref="Current"/> once per
/// piece of work (a request, a scrape, a scheduling pass) and use that snapshot throughout. The scheduler follows
/// changes through <see cref="WhenChanged"/>. Thread-safe.
/// </summary>
public sealed class CheckCatalog
{
    private readonly IReadOnlyList<CheckDefinition> _configured;
    private readonly Lock _gate = new();
    private CheckCatalogSnapshot _current;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Creates the catalog of <paramref name="configured"/> checks (whose names must be unique) and no discovered ones.</summary>
    public CheckCatalog(IReadOnlyList<CheckDefinition> configured)
    {
        ArgumentNullException.ThrowIfNull(configured);
        _configured = configured;
        _current = new CheckCatalogSnapshot(1, configured, []);
    }

    /// <summary>The checks now.</summary>
    public CheckCatalogSnapshot Current => Volatile.Read(ref _current);

    /// <summary>Shorthand for <c>Current.Checks</c>.</summary>
    public IReadOnlyList<CheckDefinition> Checks => Current.Checks;

    /// <summary>A task that completes at the next change after this call (never faults).</summary>
    public Task WhenChanged
    {
        get
        {
            lock (_gate)
            {
                return _changed.Task;
            }
        }
    }

    /// <summary>
    /// Replaces the discovered checks. One whose name a configured check has is left out, with a problem saying so (the
    /// configuration file wins). Publishes a new snapshot only when something differs (by <paramref name="same"/>, and the problems).
    /// </summary>
    /// <param name="discovered">The discovered checks, names unique among themselves.</param>
    /// <param name="problems">What discovery left out and why.</param>
    /// <param name="same">Whether two definitions of one name are the same.</param>
    /// <returns>The new snapshot, or null when nothing changed.</returns>
    public CheckCatalogSnapshot? SetDiscovered(IReadOnlyList<CheckDefinition> discovered, IReadOnlyList<string> problems, Func<CheckDefinition, CheckDefinition, bool> same)
    {
        ArgumentNullException.ThrowIfNull(discovered);
        ArgumentNullException.ThrowIfNull(problems);
        ArgumentNullException.ThrowIfNull(same);
        var configuredNames = _configured.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        var allProblems = new List<string>(problems);
        var checks = new List<CheckDefinition>(_configured);
        foreach (var check in discovered)
        {
            if (configuredNames.Contains(check.Name))
            {
                string from = check.Promise?.Path ?? check.Name;
                allProblems.Add($"promise {from} is ignored: a check of the configuration file is named \"{check.Name}\" (the configuration file wins)");
                continue;
            }

            checks.Add(check with { Index = checks.Count });
        }

        lock (_gate)
        {
            var old = _current;
            if (old.Checks.Count == checks.Count
                && old.Checks.Zip(checks).All(p => ReferenceEquals(p.First, p.Second) || (p.First.Name == p.Second.Name && p.First.Index == p.Second.Index && same(p.First, p.Second)))
                && old.Problems.SequenceEqual(allProblems, StringComparer.Ordinal))
            {
                return null;
            }

            var snapshot = new CheckCatalogSnapshot(old.Version + 1, checks, allProblems);
            Volatile.Write(ref _current, snapshot);
            var changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            changed.TrySetResult();
            return snapshot;
        }
    }
}
