using Npgsql;
using Tocsin.Storage.Postgres;

namespace Tocsin.Core.Tests.Storage;

public sealed class PostgresConnectionStringTests
{
    private static NpgsqlConnectionStringBuilder Parse(string s) => new(PostgresConnectionString.ToNpgsql(s));

    [Fact]
    public void Uri_gives_user_password_host_port_and_database()
    {
        var b = Parse("postgresql://tocsin:s3cret@db.example.org:6543/monitoring");
        Assert.Equal("tocsin", b.Username);
        Assert.Equal("s3cret", b.Password);
        Assert.Equal("db.example.org", b.Host);
        Assert.Equal(6543, b.Port);
        Assert.Equal("monitoring", b.Database);
    }

    [Fact]
    public void Uri_without_port_uses_5432_and_postgres_scheme_is_accepted()
    {
        var b = Parse("postgres://u@h/d");
        Assert.Equal(5432, b.Port);
        Assert.Equal("u", b.Username);
        Assert.Null(b.Password);
    }

    [Fact]
    public void Uri_parts_are_percent_decoded()
    {
        var b = Parse("postgresql://us%40er:p%40ss%3Aw%2Ford@h:1/my%20db");
        Assert.Equal("us@er", b.Username);
        Assert.Equal("p@ss:w/ord", b.Password);
        Assert.Equal("my db", b.Database);
    }

    [Fact]
    public void Uri_query_sets_ssl_mode_application_name_and_timeout()
    {
        var b = Parse("postgresql://u:p@h/d?sslmode=verify-full&application_name=tocsin&connect_timeout=7");
        Assert.Equal(SslMode.VerifyFull, b.SslMode);
        Assert.Equal("tocsin", b.ApplicationName);
        Assert.Equal(7, b.Timeout);
    }

    [Fact]
    public void Uri_accepts_ipv6_hosts_and_several_hosts()
    {
        var v6 = Parse("postgresql://u@[::1]:5433/d");
        Assert.Equal("::1", v6.Host);
        Assert.Equal(5433, v6.Port);
        var multi = Parse("postgresql://u@h1:5432,h2:5433/d");
        Assert.Equal("h1:5432,h2:5433", multi.Host);
    }

    [Fact]
    public void Key_value_form_is_accepted_as_is()
    {
        var b = Parse("Host=h;Port=5999;Username=u;Password=p;Database=d");
        Assert.Equal(("h", 5999, "u", "p", "d"), (b.Host, b.Port, b.Username, b.Password, b.Database));
    }

    [Theory]
    [InlineData("postgresql://u:topsecret@h/d?sslmode=sometimes", "sslmode")]
    [InlineData("postgresql://u:topsecret@h/d?colour=red", "unknown URI parameter \"colour\"")]
    [InlineData("postgresql://u:topsecret@h:99999/d", "port")]
    [InlineData("postgresql://u:topsecret@/d", "host")]
    [InlineData("mysql://u:topsecret@h/d", "postgresql://")]
    [InlineData("Host=h;Password=topsecret;Colour=red", "key=value")]
    public void Invalid_strings_are_refused_saying_what_without_the_password(string input, string expected)
    {
        var ex = Assert.Throws<FormatException>(() => PostgresConnectionString.ToNpgsql(input));
        Assert.Contains(expected, ex.Message);
        Assert.DoesNotContain("topsecret", ex.Message);
    }

    [Fact]
    public void Password_comes_from_the_uri_then_the_password_file_then_the_environment()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "from-file\n");
            static string? Env(string name) => name == PostgresConnectionString.PasswordVariable ? "from-env" : null;
            Assert.Equal("in-uri", new NpgsqlConnectionStringBuilder(PostgresConnectionString.Resolve("postgresql://u:in-uri@h/d", file, Env)).Password);
            Assert.Equal("from-file", new NpgsqlConnectionStringBuilder(PostgresConnectionString.Resolve("postgresql://u@h/d", file, Env)).Password);
            Assert.Equal("from-env", new NpgsqlConnectionStringBuilder(PostgresConnectionString.Resolve("postgresql://u@h/d", null, Env)).Password);
            Assert.Null(new NpgsqlConnectionStringBuilder(PostgresConnectionString.Resolve("postgresql://u@h/d", null, _ => null)).Password);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
