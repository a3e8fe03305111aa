namespace Tocsin.IntegrationTests.Fixtures;

/// <summary>
/// Tests that measure timings against the agents' own clocks (heartbeats, due times) with little slack: xunit runs
/// them after the parallel tests, one class at a time, so neither they nor the others slow each other down.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunAlone
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Alone: timing-sensitive agent processes";
}
