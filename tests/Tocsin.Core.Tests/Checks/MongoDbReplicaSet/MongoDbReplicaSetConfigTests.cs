using Tocsin.Checks;
using Tocsin.Checks.MongoDbReplicaSet;
using Tocsin.Configuration;
using Tocsin.Status;

namespace Tocsin.Core.Tests.Checks.MongoDbReplicaSet;

public sealed class MongoDbReplicaSetConfigTests
{
    private const string Password = "Pw-0123456789-secret";

    private static readonly ConfigLoader Loader = new(CheckKinds.CreateDefault(TimeProvider.System));

    private static CheckDefinition Check(string fields) =>
        Assert.Single(Loader.Parse($$"""{ "checks": [{ "name": "rs", "kind": "mongodb-replicaset", {{fields}} }] }""", "/tocsin-tests/config.json").Checks);

    private static List<string> Errors(string fields) =>
        [.. Assert.Throws<ConfigException>(() => Check(fields)).Errors.Select(e => e.ToString())];

    [Fact]
    public void Options_are_read_and_the_password_is_never_shown()
    {
        var check = Check($$"""
            "connectionString": "mongodb://monitor:{{Password}}@db1:27017,db2:27017,db3:27017/admin?replicaSet=rs0&authSource=admin",
            "expectedMembers": 3, "maxLag": "10s"
            """);
        var o = Assert.IsType<MongoDbReplicaSetOptions>(check.Options);
        Assert.Equal("rs0", o.ReplicaSet);
        Assert.Equal(3, o.ExpectedMembers);
        Assert.Equal(TimeSpan.FromSeconds(10), o.MaxLag);
        Assert.Equal(TimeSpan.FromMinutes(1), check.Interval); // the kind's default interval
        Assert.Equal(TimeSpan.FromSeconds(20), o.CriticalLag);
        Assert.Equal(["db1:27017", "db2:27017", "db3:27017"], o.ConnectionString.Hosts);
        Assert.Equal("monitor", o.ConnectionString.User);
        Assert.Equal("mongodb://monitor:***@db1:27017,db2:27017,db3:27017/admin?replicaSet=rs0&authSource=admin", o.ConnectionString.Redacted);
        Assert.Contains(Password, o.ConnectionString.Value, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(10), check.Timeout);

        using var kind = new MongoDbReplicaSetCheckKind(TimeProvider.System);
        Assert.Equal("replSetGetStatus on db1:27017,db2:27017,db3:27017 (set rs0)", kind.Describe(o));
        Assert.DoesNotContain(Password, o.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Password, o.ConnectionString.ToString(), StringComparison.Ordinal);
        var lines = DefinitionView.Lines(check);
        Assert.Equal(o.ConnectionString.Redacted, Assert.Single(lines, l => l.Key == "connectionString").Value);
        Assert.DoesNotContain(lines, l => l.Value.Contains(Password, StringComparison.Ordinal));
    }

    [Fact]
    public void The_connection_string_may_come_from_an_environment_variable_or_a_file_and_defaults_apply()
    {
        Environment.SetEnvironmentVariable("TOCSIN_TEST_MONGO_URI", $"mongodb://monitor:{Password}@127.0.0.1:27017/");
        var o = Assert.IsType<MongoDbReplicaSetOptions>(Check("""  "connectionStringEnv": "TOCSIN_TEST_MONGO_URI" """).Options);
        Assert.Contains(Password, o.ConnectionString.Value, StringComparison.Ordinal);
        Assert.Null(o.ReplicaSet);
        Assert.Null(o.ExpectedMembers);
        Assert.Equal(TimeSpan.FromSeconds(30), o.MaxLag);
        Assert.Equal(TimeSpan.FromSeconds(60), o.CriticalLag);

        using var folder = new TempFolder();
        File.WriteAllText(folder.File("uri"), $"mongodb://monitor:{Password}@db1/?replicaSet=rs0\n");
        var fromFile = Assert.IsType<MongoDbReplicaSetOptions>(Check($$"""
            "connectionStringFile": {{System.Text.Json.JsonSerializer.Serialize(folder.File("uri"))}}, "replicaSet": "rs9", "criticalLag": "5m"
            """).Options);
        Assert.Equal("rs9", fromFile.ReplicaSet); // the option wins over the URI's replicaSet
        Assert.Equal(TimeSpan.FromMinutes(5), fromFile.CriticalLag);
        Assert.Equal(["db1:27017"], fromFile.ConnectionString.Hosts);
    }

    [Theory]
    [InlineData("""  "maxLag": "5s" """, "field \"connectionString\": is required")]
    [InlineData("""  "connectionString": "postgresql://u:Pw-0123456789-secret@db/x" """, "must be a mongodb:// or mongodb+srv:// URI, not postgresql://")]
    [InlineData("""  "connectionString": "db1:27017" """, "must be a mongodb:// or mongodb+srv:// URI")]
    [InlineData("""  "connectionString": "mongodb://u:Pw-0123456789-secret@db1/?replicaSet=rs0&readPreference=bogus" """, "is not a valid MongoDB connection string")]
    [InlineData("""  "connectionString": "mongodb://db1", "connectionStringEnv": "X" """, "give only one of \"connectionString\", \"connectionStringEnv\" and \"connectionStringFile\"")]
    [InlineData("""  "connectionString": "mongodb://db1", "maxLag": "-5s" """, "field \"maxLag\" = \"-5s\": must not be negative")]
    [InlineData("""  "connectionString": "mongodb://db1", "maxLag": "30" """, "is not a duration")]
    [InlineData("""  "connectionString": "mongodb://db1", "maxLag": "1m", "criticalLag": "30s" """, "field \"criticalLag\" = \"30s\": must be at least maxLag (1m)")]
    [InlineData("""  "connectionString": "mongodb://db1", "expectedMembers": 0 """, "field \"expectedMembers\" = 0: must be from 1 to 50")]
    [InlineData("""  "connectionString": "mongodb://db1", "replicaSet": "" """, "field \"replicaSet\" = \"\": must be the replica set's name")]
    [InlineData("""  "connectionString": "mongodb://db1", "maxlag": "5s" """, "field \"maxlag\" = \"5s\": unknown field")]
    [InlineData("""  "conectionString": "mongodb://u:Pw-0123456789-secret@db1/" """, "field \"conectionString\" = \"mongodb://u:***@db1/\": unknown field")]
    public void Bad_options_are_named_and_the_password_is_not_echoed(string fields, string expected)
    {
        var errors = Errors(fields);
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
        Assert.DoesNotContain(errors, e => e.Contains(Password, StringComparison.Ordinal));
    }
}
