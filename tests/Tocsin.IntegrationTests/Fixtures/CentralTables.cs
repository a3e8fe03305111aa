using Npgsql;

namespace Tocsin.IntegrationTests.Fixtures;

/// <summary>Reads the central PostgreSQL tables the agents write (<c>tocsin.results</c>, <c>tocsin.agents</c>), one short unpooled connection per call.</summary>
public static class CentralTables
{
    /// <summary>Rows in <c>tocsin.results</c>, 0 while no agent has migrated the database yet.</summary>
    public static long CountResults(string cs)
    {
        try
        {
            return Scalar(cs, "SELECT count(*) FROM tocsin.results");
        }
        catch (PostgresException ex) when (ex.SqlState == "42P01")
        {
            return 0;
        }
    }

    /// <summary>
    /// Every result id in <c>tocsin.results</c>; fails the test when an id is there twice (the primary key is
    /// <c>(id, started_at)</c>, so the table alone would accept the same id with another start time).
    /// </summary>
    public static HashSet<Guid> ResultIds(string cs)
    {
        using var c = Open(cs);
        using var cmd = new NpgsqlCommand("SELECT id FROM tocsin.results", c);
        using var r = cmd.ExecuteReader();
        var ids = new HashSet<Guid>();
        while (r.Read())
        {
            Assert.True(ids.Add(r.GetGuid(0)), $"id {r.GetGuid(0)} twice in tocsin.results");
        }

        return ids;
    }

    /// <summary><c>count(*)</c> and <c>count(DISTINCT id)</c> of <c>tocsin.results</c>.</summary>
    public static (long Rows, long DistinctIds) CountRowsAndIds(string cs)
    {
        using var c = Open(cs);
        using var cmd = new NpgsqlCommand("SELECT count(*), count(DISTINCT id) FROM tocsin.results", c);
        using var r = cmd.ExecuteReader();
        r.Read();
        return (r.GetInt64(0), r.GetInt64(1));
    }

    /// <summary>Every result as (id, check, scheduled time UTC, agent id).</summary>
    public static List<(Guid Id, string Check, DateTime ScheduledAt, Guid Agent)> Runs(string cs)
    {
        using var c = Open(cs);
        using var cmd = new NpgsqlCommand("SELECT id, check_name, scheduled_at, agent_id FROM tocsin.results", c);
        using var r = cmd.ExecuteReader();
        var rows = new List<(Guid, string, DateTime, Guid)>();
        while (r.Read())
        {
            rows.Add((r.GetGuid(0), r.GetString(1), r.GetDateTime(2), r.GetGuid(3)));
        }

        return rows;
    }

    /// <summary>Agents whose heartbeat is younger than <paramref name="window"/> (0 before the first migration).</summary>
    public static long LiveAgents(string cs, TimeSpan window)
    {
        try
        {
            using var c = Open(cs);
            using var cmd = new NpgsqlCommand("SELECT count(*) FROM tocsin.agents WHERE last_heartbeat > now() - @window", c);
            cmd.Parameters.AddWithValue("window", window);
            return (long)cmd.ExecuteScalar()!;
        }
        catch (PostgresException ex) when (ex.SqlState == "42P01")
        {
            return 0;
        }
    }

    /// <summary>The last heartbeat of agent <paramref name="agentId"/> (database clock), or null when it is not registered.</summary>
    public static DateTime? LastHeartbeat(NpgsqlConnection open, Guid agentId)
    {
        using var cmd = new NpgsqlCommand("SELECT last_heartbeat FROM tocsin.agents WHERE id = @id", open);
        cmd.Parameters.AddWithValue("id", agentId);
        return cmd.ExecuteScalar() is DateTime t ? t : null;
    }

    private static long Scalar(string cs, string sql)
    {
        using var c = Open(cs);
        using var cmd = new NpgsqlCommand(sql, c);
        return (long)cmd.ExecuteScalar()!;
    }

    private static NpgsqlConnection Open(string cs)
    {
        // Unpooled: a test may stop PostgreSQL under the pool.
        var c = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(cs) { Pooling = false }.ConnectionString);
        c.Open();
        return c;
    }
}
