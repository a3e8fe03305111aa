using Tocsin.Configuration;

namespace Tocsin.Core.Tests.Configuration;

public sealed class SecretsTests
{
    [Theory]
    [InlineData("postgresql://monitor:s3cret@db.example.org:5432/monitoring", "postgresql://monitor:***@db.example.org:5432/monitoring")]
    [InlineData("postgres://monitor:s3cret%40x@db/monitoring?sslmode=require", "postgres://monitor:***@db/monitoring?sslmode=require")]
    [InlineData("postgresql://db/monitoring?user=monitor&password=s3cret", "postgresql://db/monitoring?user=monitor&password=***")]
    [InlineData("Host=db;Username=monitor;Password=s3cret;Database=monitoring", "Host=db;Username=monitor;Password=***;Database=monitoring")]
    [InlineData("host=db; password = s3cret ; database=monitoring", "host=db; password = *** ; database=monitoring")]
    [InlineData("Server=db;PWD='s3 cret';Database=monitoring", "Server=db;PWD=***;Database=monitoring")]
    public void Connection_string_password_is_hidden(string connection, string redacted)
    {
        string result = Secrets.RedactConnectionString(connection);

        Assert.Equal(redacted, result);
        Assert.DoesNotContain("s3", result, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("postgresql://monitor@db.example.org:5432/monitoring")]
    [InlineData("postgresql://db.example.org:5432/monitoring")]
    [InlineData("Host=db;Username=monitor;Database=monitoring")]
    public void Connection_string_without_password_is_unchanged(string connection)
    {
        Assert.Equal(connection, Secrets.RedactConnectionString(connection));
    }
}
