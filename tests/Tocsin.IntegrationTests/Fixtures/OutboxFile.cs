using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Tocsin.IntegrationTests.Fixtures;

/// <summary>Reads an agent's outbox file read-only, without pooling (no handle stays open after a call).</summary>
public static class OutboxFile
{
    /// <summary>Results in the file, 0 when it does not exist or has no results table yet.</summary>
    public static long CountResults(string path)
    {
        if (!File.Exists(path))
        {
            return 0;
        }

        try
        {
            return Scalar(path, "SELECT count(*) FROM results;");
        }
        catch (SqliteException ex) when (ex.Message.Contains("no such table", StringComparison.Ordinal))
        {
            return 0;
        }
    }

    /// <summary>Results of one check.</summary>
    public static long CountResults(string path, string checkName) =>
        Scalar(path, "SELECT count(*) FROM results WHERE check_name = $name;", ("$name", checkName));

    /// <summary>Fewest results any of <paramref name="checkNames"/> has.</summary>
    public static long FewestResults(string path, IEnumerable<string> checkNames) =>
        File.Exists(path) && CountResults(path) > 0 ? checkNames.Min(n => CountResults(path, n)) : 0;

    /// <summary>What <c>PRAGMA integrity_check</c> answers (<c>ok</c> when the file is sound).</summary>
    public static string IntegrityCheck(string path)
    {
        using var c = Open(path);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA integrity_check;";
        using var reader = cmd.ExecuteReader();
        var lines = new List<string>();
        while (reader.Read())
        {
            lines.Add(reader.GetString(0));
        }

        return string.Join(Environment.NewLine, lines);
    }

    /// <summary>State (0 OK … 3 UNKNOWN), status code and duration of every result of one check, oldest first.</summary>
    public static IReadOnlyList<(int State, int? StatusCode, double DurationMs, string Message)> Results(string path, string checkName)
    {
        using var c = Open(path);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT state, status_code, duration_ms, message FROM results WHERE check_name = $name ORDER BY started_at, id;";
        cmd.Parameters.AddWithValue("$name", checkName);
        using var reader = cmd.ExecuteReader();
        var list = new List<(int, int?, double, string)>();
        while (reader.Read())
        {
            list.Add((reader.GetInt32(0), reader.IsDBNull(1) ? null : reader.GetInt32(1), reader.GetDouble(2), reader.GetString(3)));
        }

        return list;
    }

    /// <summary>Every result id in the file, and those not marked exported yet.</summary>
    public static (HashSet<Guid> All, HashSet<Guid> Unexported) Ids(string path)
    {
        using var c = Open(path);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT id, exported FROM results;";
        using var reader = cmd.ExecuteReader();
        var all = new HashSet<Guid>();
        var unexported = new HashSet<Guid>();
        while (reader.Read())
        {
            var id = Guid.Parse(reader.GetString(0));
            all.Add(id);
            if (reader.GetInt64(1) == 0)
            {
                unexported.Add(id);
            }
        }

        return (all, unexported);
    }

    /// <summary>The agent's persistent id (made when the outbox was created).</summary>
    public static Guid AgentId(string path)
    {
        using var c = Open(path);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT value FROM agent WHERE key = 'agent_id';";
        return Guid.Parse((string)cmd.ExecuteScalar()!);
    }

    /// <summary>Every result as (id, check, scheduled time UTC).</summary>
    public static List<(Guid Id, string Check, DateTime ScheduledAt)> Runs(string path)
    {
        using var c = Open(path);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT id, check_name, scheduled_at FROM results;";
        using var reader = cmd.ExecuteReader();
        var list = new List<(Guid, string, DateTime)>();
        while (reader.Read())
        {
            list.Add((Guid.Parse(reader.GetString(0)), reader.GetString(1), DateTime.UnixEpoch.AddMilliseconds(reader.GetInt64(2))));
        }

        return list;
    }

    private static long Scalar(string path, string sql, params (string Name, object Value)[] parameters)
    {
        using var c = Open(path);
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            cmd.Parameters.AddWithValue(name, value);
        }

        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private static SqliteConnection Open(string path)
    {
        var c = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString());
        c.Open();
        return c;
    }
}
