using Tocsin.Checks;

namespace Tocsin.State;

/// <summary>
/// How many results in a row turn a soft state into a hard one for one check (config fields
/// <c>failureThreshold</c> and <c>successThreshold</c>, per check or in <c>defaults</c>).
/// </summary>
/// <param name="FailureThreshold">Non-OK results in a row before the hard state becomes non-OK (1–100). <value>Default: 1.</value></param>
/// <param name="SuccessThreshold">OK results in a row before a hard non-OK state recovers to OK (1–100). <value>Default: 1.</value></param>
public readonly record struct StateThresholds(int FailureThreshold = 1, int SuccessThreshold = 1)
{
    /// <summary>Smallest allowed threshold.</summary>
    public const int Min = 1;

    /// <summary>Largest allowed threshold.</summary>
    public const int Max = 100;

    /// <summary>Both thresholds 1: every state change is hard at once.</summary>
    public static StateThresholds Default { get; } = new(1, 1);

    /// <summary>
    /// A lookup of each check's thresholds by check name (ordinal); names not in <paramref name="checks"/> get
    /// <see cref="Default"/>. The returned function is safe for concurrent use.
    /// </summary>
    public static Func<string, StateThresholds> Lookup(IEnumerable<CheckDefinition> checks)
    {
        ArgumentNullException.ThrowIfNull(checks);
        var map = checks.ToDictionary(c => c.Name, c => c.Thresholds, StringComparer.Ordinal);
        return name => map.TryGetValue(name, out var t) ? t : Default;
    }
}
