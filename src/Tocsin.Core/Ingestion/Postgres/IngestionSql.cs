using System.Text;

namespace Tocsin.Ingestion.Postgres;

/// <summary>
/// The statements of <see cref="PostgresIngestionStore"/> on the tables of migration 5 (<c>Storage/Postgres/PostgresSchema.cs</c>).
/// Table names come from <see cref="TableOf"/> only; every value is a parameter.
/// </summary>
internal static class IngestionSql
{
    /// <summary>The table (in schema <c>tocsin</c>) of <paramref name="kind"/>'s rows.</summary>
    public static string TableOf(RowKind kind) => kind switch
    {
        RowKind.Logs => "ingest_logs",
        RowKind.Notifications => "ingest_notifications",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "must be Logs or Notifications"),
    };

    /// <summary>Reserves <c>@n</c> ids of <paramref name="table"/>'s identity sequence, in increasing order (one row each).</summary>
    public static string ReserveIds(string table) => $"SELECT nextval('tocsin.{table}_id_seq') FROM generate_series(1, @n);";

    /// <summary>Binary COPY of rows with their reserved ids.</summary>
    public static string Copy(string table) => $"COPY tocsin.{table} (id, identity, level, time, sender, message) FROM STDIN (FORMAT BINARY);";

    private const string Columns = "id, identity, sender, message, level, time";

    /// <summary>
    /// One identity's rows: <c>@identity</c>, <c>time &gt;= @since</c>, then only the filters <paramref name="query"/> sets
    /// (<c>@sender</c>, <c>@max_level</c>, <c>@text</c> found literally in the message, <c>(@before_time, @before_id)</c>),
    /// newest first, <c>@limit</c> rows. Columns as <see cref="Columns"/>.
    /// </summary>
    public static string Query(string table, RowQuery query)
    {
        var sql = new StringBuilder($"SELECT {Columns} FROM tocsin.{table} WHERE identity = @identity AND time >= @since");
        if (query.Sender is not null)
        {
            sql.Append(" AND sender = @sender");
        }

        if (query.MaxLevel is not null)
        {
            sql.Append(" AND level <= @max_level");
        }

        if (query.Text is { Length: > 0 })
        {
            sql.Append(" AND strpos(message, @text) > 0");
        }

        if (query.Before is not null)
        {
            sql.Append(" AND (time, id) < (@before_time, @before_id)");
        }

        return sql.Append(" ORDER BY time DESC, id DESC LIMIT @limit;").ToString();
    }

    /// <summary>The rows whose id is in <c>@ids</c> (bigint[]), in id order.</summary>
    public static string ReadByIds(string table) => $"SELECT {Columns} FROM tocsin.{table} WHERE id = ANY(@ids) ORDER BY id;";

    /// <summary>Deletes the rows with <c>time &lt; @older_than</c> (after the whole old partitions were dropped, only the one
    /// straddling the limit is touched).</summary>
    public static string DeleteOlder(string table) => $"DELETE FROM tocsin.{table} WHERE time < @older_than;";

    public const string SelectConfig = "SELECT document FROM tocsin.ingest_configs WHERE identity = @identity;";

    public const string UpsertConfig = """
        INSERT INTO tocsin.ingest_configs (identity, document, updated_at) VALUES (@identity, @document, @now)
        ON CONFLICT (identity) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at;
        """;

    private const string TokenColumns = "id, identity, role, created_at, revoked_at";

    public const string InsertToken = """
        INSERT INTO tocsin.ingest_tokens (sha256, id, identity, role, created_at) VALUES (@sha256, @id, @identity, @role, @now);
        """;

    public const string SelectValidToken = $"SELECT {TokenColumns} FROM tocsin.ingest_tokens WHERE sha256 = @sha256 AND revoked_at IS NULL;";

    public const string SelectTokens = $"SELECT {TokenColumns} FROM tocsin.ingest_tokens ORDER BY created_at, id;";

    public const string RevokeToken = "UPDATE tocsin.ingest_tokens SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL;";
}
