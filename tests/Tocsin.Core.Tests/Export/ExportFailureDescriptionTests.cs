using Npgsql;
using Tocsin.Export;

namespace Tocsin.Core.Tests.Export;

/// <summary>The one-line reason the export status and log give for a failure.</summary>
public sealed class ExportFailureDescriptionTests
{
    [Fact]
    public void A_connect_timeout_is_described_once_not_twice()
    {
        // What Npgsql throws when connect_timeout passes (a host that accepts and never answers).
        var ex = new NpgsqlException("The operation has timed out", new TimeoutException());

        Assert.Equal("The operation has timed out", Exporter.Describe(ex));
    }

    [Fact]
    public void The_inner_reason_is_added_when_it_says_more()
    {
        var ex = new NpgsqlException("Failed to connect to 127.0.0.1:1", new System.Net.Sockets.SocketException(111));

        Assert.StartsWith("Failed to connect to 127.0.0.1:1: ", Exporter.Describe(ex), StringComparison.Ordinal);
    }
}
