using Tocsin.Configuration;

namespace Tocsin.Checks;

/// <summary>
/// A check kind: reads its options from configuration and provides the runner for its checks.
/// New kinds (command, heartbeat, …) plug in by adding an implementation to the
/// <see cref="CheckKindRegistry"/>.
/// </summary>
public interface ICheckKind
{
    /// <summary>The name used in configuration's <c>kind</c> field, e.g. <c>http</c>.</summary>
    string Name { get; }

    /// <summary>
    /// Reads and validates this kind's fields of one check. Problems go to the reader's error list;
    /// the returned options are only used when no problem was recorded.
    /// </summary>
    object ReadOptions(ConfigObjectReader reader);

    /// <summary>One line describing the check's target for tables, e.g. <c>GET https://example.org/</c>.</summary>
    string Describe(object options);

    /// <summary>
    /// The timeout of this kind's checks when neither the check nor <c>defaults.timeout</c> set one (still cut to 80 % of
    /// the interval), or <see langword="null"/> for the loader's <see cref="ConfigLoader.DefaultTimeout"/>.
    /// <value>Default: null.</value>
    /// </summary>
    TimeSpan? DefaultTimeout => null;

    /// <summary>
    /// The interval of this kind's checks when neither the check nor <c>defaults.interval</c> set one, or
    /// <see langword="null"/> for the loader's <see cref="ConfigLoader.DefaultInterval"/> (30 s). <value>Default: null.</value>
    /// </summary>
    TimeSpan? DefaultInterval => null;

    /// <summary>Where this kind's checks run among agents when the check sets no <c>placement</c>. <value>Default: <see cref="CheckPlacement.Shard"/>.</value></summary>
    CheckPlacement DefaultPlacement => CheckPlacement.Shard;

    /// <summary>The runner shared by all checks of this kind.</summary>
    ICheckRunner Runner { get; }
}

/// <summary>
/// The set of check kinds an agent knows, by name. Disposing it disposes the kinds and runners that hold resources
/// (<see cref="IDisposable"/>: the http runner's connection pools, the MongoDB driver clients kept between runs), each
/// once; the agent's container does so when it stops, after the scheduler.
/// </summary>
public sealed class CheckKindRegistry : IDisposable
{
    private readonly Dictionary<string, ICheckKind> _kinds;

    /// <summary>Creates the registry from the given kinds.</summary>
    /// <exception cref="ArgumentException">When two kinds share a name.</exception>
    public CheckKindRegistry(IEnumerable<ICheckKind> kinds) =>
        _kinds = kinds.ToDictionary(k => k.Name, StringComparer.Ordinal);

    /// <summary>The known kind names, sorted.</summary>
    public IReadOnlyList<string> Names => [.. _kinds.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Finds a kind by name.</summary>
    public bool TryGet(string name, out ICheckKind kind) => _kinds.TryGetValue(name, out kind!);

    /// <summary>Gets a kind by name.</summary>
    /// <exception cref="KeyNotFoundException">When no such kind is registered.</exception>
    public ICheckKind Get(string name) => _kinds[name];

    /// <summary>Disposes every kind, and every kind's runner, that is <see cref="IDisposable"/> (each object once).</summary>
    public void Dispose()
    {
        var owned = new HashSet<IDisposable>(ReferenceEqualityComparer.Instance);
        foreach (var kind in _kinds.Values)
        {
            if (kind is IDisposable k)
            {
                owned.Add(k);
            }

            if (kind.Runner is IDisposable r)
            {
                owned.Add(r);
            }
        }

        foreach (var d in owned)
        {
            d.Dispose();
        }
    }
}

/// <summary>
/// A check kind whose checks bring notification channels of their own (e.g. <c>rocketchat-apps</c>' <c>alertRoom</c>): the
/// loader adds each to the configuration's channels and to the check's <c>notify</c> list, so they alert through the
/// outbox and the leader's notifier like any channel (durable, retried, one problem notification per state change).
/// </summary>
public interface IImpliesNotificationChannels
{
    /// <summary>The channels <paramref name="check"/> (of this kind, with valid options) brings; names must not clash with configured ones.</summary>
    IEnumerable<Alerting.NotificationChannelDefinition> ImpliedChannels(CheckDefinition check);
}
