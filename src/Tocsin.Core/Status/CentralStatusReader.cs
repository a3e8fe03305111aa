using System.Text.Json.Nodes;
using Npgsql;
using NpgsqlTypes;
using Tocsin.Checks;
using Tocsin.Storage.Postgres;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Status;

/// <summary>The newest state of one check across the fleet, from <c>tocsin.check_states</c>.</summary>
/// <param name="Name">Check name.</param>
/// <param name="AgentId">The agent that ran the newest result.</param>
/// <param name="Kind">Check kind.</param>
/// <param name="State">State of the newest result.</param>
/// <param name="LastResultId">Id of the newest result.</param>
/// <param name="LastRun">When the newest run started (UTC).</param>
/// <param name="DurationMs">Its duration in ms.</param>
/// <param name="StatusCode">Its HTTP status code, or null.</param>
/// <param name="Message">Its message.</param>
/// <param name="ConsecutiveFailures">Non-OK results in a row up to the newest, counted over the results of every agent
/// in the order of their start, leaving out results that reached the centre after a newer one of the same check.</param>
/// <param name="LastChange">Start of the first result in the current state (UTC), by the same counting.</param>
public sealed record CentralCheckState(
    string Name, Guid AgentId, string Kind, CheckState State, Guid LastResultId, DateTimeOffset LastRun, double DurationMs,
    int? StatusCode, string Message, int ConsecutiveFailures, DateTimeOffset LastChange);

/// <summary>One result from <c>tocsin.results</c> with the agent that ran it.</summary>
/// <param name="AgentId">The agent that ran it.</param>
/// <param name="Result">The result.</param>
public sealed record CentralResult(Guid AgentId, CheckResult Result);

/// <summary>
/// Reads the whole fleet's check states and results from the central PostgreSQL (schema version 2 or
/// later, see <see cref="CentralDatabase"/>); the exporters of all agents keep <c>tocsin.check_states</c>
/// up to date in the transaction of each batch. Uses the shared <see cref="NpgsqlDataSource"/>; holds no connection.
/// </summary>
public sealed class CentralStatusReader
{
    private readonly NpgsqlDataSource _dataSource;

    /// <summary>Reads through <paramref name="dataSource"/> (built once by the caller, who disposes it).</summary>
    public CentralStatusReader(NpgsqlDataSource dataSource) => _dataSource = dataSource;

    /// <summary>The central state of each of <paramref name="names"/> that has one, by check name.</summary>
    /// <exception cref="NpgsqlException">When PostgreSQL cannot be reached or refuses the query; a
    /// <see cref="PostgresException"/> with SQL state <c>42P01</c> when the schema is older than version 2.</exception>
    /// <exception cref="OperationCanceledException">When <paramref name="cancellationToken"/> is cancelled.</exception>
    public async Task<IReadOnlyDictionary<string, CentralCheckState>> ReadStatesAsync(IReadOnlyCollection<string> names, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(names);
        var states = new Dictionary<string, CentralCheckState>(StringComparer.Ordinal);
        await using var cmd = _dataSource.CreateCommand(PostgresSchema.SelectCheckStates);
        cmd.Parameters.Add(new NpgsqlParameter("names", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = names.ToArray() });
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            string name = r.GetString(0);
            states[name] = new CentralCheckState(
                name,
                r.GetGuid(1),
                r.GetString(2),
                (CheckState)r.GetInt16(3),
                r.GetGuid(4),
                Utc(r.GetDateTime(5)),
                r.GetDouble(6),
                r.IsDBNull(7) ? null : r.GetInt32(7),
                r.GetString(8),
                r.GetInt32(9),
                Utc(r.GetDateTime(10)));
        }

        return states;
    }

    /// <summary>The newest <paramref name="limit"/> results of <paramref name="checkName"/> from every agent, newest first (by start, then id).</summary>
    /// <exception cref="NpgsqlException">When PostgreSQL cannot be reached or refuses the query.</exception>
    /// <exception cref="OperationCanceledException">When <paramref name="cancellationToken"/> is cancelled.</exception>
    /// <param name="checkName">The check.</param>
    /// <param name="limit">Most results.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <param name="from">Earliest start (inclusive), or null.</param>
    /// <param name="to">Latest start (exclusive), or null.</param>
    /// <param name="before">Only results before this position (start, then id), or null.</param>
    public async Task<IReadOnlyList<CentralResult>> ReadResultsAsync(
        string checkName, int limit, CancellationToken cancellationToken, DateTimeOffset? from = null, DateTimeOffset? to = null, ResultPosition? before = null)
    {
        var list = new List<CentralResult>();
        bool paged = from is not null || to is not null || before is not null;
        await using var cmd = _dataSource.CreateCommand(paged ? PostgresSchema.SelectResultsPage : PostgresSchema.SelectResults);
        cmd.Parameters.AddWithValue("check", checkName);
        cmd.Parameters.AddWithValue("limit", limit);
        if (paged)
        {
            cmd.Parameters.AddWithValue("from", from ?? DateTimeOffset.MinValue);
            cmd.Parameters.AddWithValue("to", to ?? DateTimeOffset.MaxValue);
            cmd.Parameters.AddWithValue("before_started", before?.StartedAt ?? DateTimeOffset.MaxValue);
            cmd.Parameters.AddWithValue("before_id", before?.Id ?? Guid.AllBitsSet);
        }

        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(new CentralResult(
                r.GetGuid(1),
                new CheckResult(
                    r.GetGuid(0),
                    r.GetString(2),
                    r.GetString(3),
                    (CheckState)r.GetInt16(4),
                    Utc(r.GetDateTime(5)),
                    Utc(r.GetDateTime(6)),
                    Utc(r.GetDateTime(7)),
                    r.GetDouble(8),
                    r.IsDBNull(9) ? null : r.GetInt32(9),
                    r.GetString(10),
                    r.IsDBNull(11) ? null : JsonNode.Parse(r.GetString(11)) as JsonObject)));
        }

        return list;
    }

    private static DateTimeOffset Utc(DateTime t) => new(DateTime.SpecifyKind(t, DateTimeKind.Utc));
}
