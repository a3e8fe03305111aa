using Tocsin.Checks;

namespace Tocsin.Fleet;

/// <summary>Which agent runs which check, as the agents themselves decide it (see <see cref="AgentFleet.Owns"/>).</summary>
public static class CheckOwnership
{
    /// <summary>
    /// How many of <paramref name="checks"/> each agent runs, by agent id: for a live agent, the enabled checks
    /// placed <c>all</c>, plus for the live leader those placed <c>leader</c>, plus the enabled sharded checks whose rendezvous
    /// owner among the live agents it is; 0 for
    /// an agent that is not live. Assumes every agent has the same checks (one configuration for the fleet).
    /// </summary>
    public static IReadOnlyDictionary<Guid, int> CountOwned(IReadOnlyList<CheckDefinition> checks, IReadOnlyList<AgentInfo> agents)
    {
        ArgumentNullException.ThrowIfNull(checks);
        ArgumentNullException.ThrowIfNull(agents);
        var live = agents.Where(a => a.Live).Select(a => a.Id).Order().ToList();
        var counts = agents.ToDictionary(a => a.Id, _ => 0);
        if (live.Count == 0)
        {
            return counts;
        }

        foreach (var check in checks.Where(c => c.Enabled))
        {
            if (check.Placement == CheckPlacement.All)
            {
                foreach (var id in live)
                {
                    counts[id]++;
                }
            }
            else if (check.Placement == CheckPlacement.Leader)
            {
                if (agents.FirstOrDefault(a => a.Live && a.Leader) is { } leader)
                {
                    counts[leader.Id]++;
                }
            }
            else
            {
                counts[AgentFleet.Owner(check.Name, live)]++;
            }
        }

        return counts;
    }
}
