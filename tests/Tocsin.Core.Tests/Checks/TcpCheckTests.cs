using System.Net;
using System.Net.Sockets;
using Tocsin.Checks;
using Tocsin.Core.Tests.TestServers;

namespace Tocsin.Core.Tests.Checks;

public sealed class TcpCheckTests
{
    private static CheckDefinition Check(int port) =>
        CheckHarness.Parse($$"""{ "name": "port", "kind": "tcp", "host": "127.0.0.1", "port": {{port}}, "timeout": "5s" }""");

    [Fact]
    public async Task Tcp_check_is_ok_with_connect_time_when_the_port_is_open()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;

            var result = await CheckHarness.RunAsync(Check(port));

            Assert.Equal(CheckState.OK, result.State);
            Assert.Equal("tcp", result.Kind);
            Assert.StartsWith($"connected to 127.0.0.1:{port} in ", result.Message, StringComparison.Ordinal);
            Assert.True(result.Details!["connectMs"]!.GetValue<double>() >= 0);
            Assert.Equal("127.0.0.1", result.Details["remoteAddress"]!.GetValue<string>());
            Assert.Null(result.StatusCode);
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public async Task Tcp_check_is_critical_naming_connection_refused_when_the_port_is_closed()
    {
        int port = KestrelTarget.ClosedPort();

        var result = await CheckHarness.RunAsync(Check(port));

        Assert.Equal(CheckState.CRITICAL, result.State);
        Assert.Equal($"connect to 127.0.0.1:{port} failed: ConnectionRefused", result.Message);
        Assert.False(result.Details?.ContainsKey("connectMs") ?? false);
    }
}
