using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Tocsin.Configuration;

namespace Tocsin.Checks.Tcp;

/// <summary>
/// Options of a <c>tcp</c> check: <c>{ "name": "db-port", "kind": "tcp", "host": "127.0.0.1", "port": 5432 }</c>.
/// </summary>
/// <param name="Host">Host name or IP address.</param>
/// <param name="Port">TCP port, 1–65535.</param>
public sealed record TcpCheckOptions(string Host, int Port);

/// <summary>The <c>tcp</c> check kind: OK when a TCP connection opens within the timeout, with the connect time in ms.</summary>
public sealed class TcpCheckKind : ICheckKind, ICheckRunner
{
    /// <summary>The kind's name in configuration.</summary>
    public const string KindName = "tcp";

    private readonly TimeProvider _time;

    /// <summary>Creates the kind.</summary>
    public TcpCheckKind(TimeProvider time) => _time = time;

    /// <inheritdoc />
    public string Name => KindName;

    /// <inheritdoc />
    public ICheckRunner Runner => this;

    /// <inheritdoc />
    public string Describe(object options) => options is TcpCheckOptions o ? $"tcp {o.Host}:{o.Port}" : "";

    /// <inheritdoc />
    public object ReadOptions(ConfigObjectReader reader)
    {
        var r = reader;
        string? host = r.String("host", required: true);
        if (host is not null && Uri.CheckHostName(host) == UriHostNameType.Unknown)
        {
            r.Error("host", ConfigObjectReader.Quote(host), "must be a host name or an IP address");
        }

        long? port = r.Integer("port", 1, 65535, required: true);
        return new TcpCheckOptions(host ?? "", (int)(port ?? 1));
    }

    /// <inheritdoc />
    public async Task<RunOutcome> RunAsync(CheckDefinition check, CancellationToken cancellationToken)
    {
        var o = (TcpCheckOptions)check.Options;
        var details = new JsonObject();
        long t0 = _time.GetTimestamp();
        IPAddress[] addresses;
        if (IPAddress.TryParse(o.Host, out var ip))
        {
            addresses = [ip];
        }
        else
        {
            try
            {
                addresses = await Dns.GetHostAddressesAsync(o.Host, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                return new RunOutcome(CheckState.CRITICAL, $"DNS lookup of {o.Host} failed: {ex.SocketErrorCode}", null, details);
            }

            details["dnsMs"] = Math.Round(_time.GetElapsedTime(t0).TotalMilliseconds, 3);
        }

        long t1 = _time.GetTimestamp();
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(addresses, o.Port, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            return new RunOutcome(CheckState.CRITICAL, $"connect to {o.Host}:{o.Port} failed: {ex.SocketErrorCode}", null, details);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return new RunOutcome(CheckState.CRITICAL, $"connect to {o.Host}:{o.Port} timed out after {Math.Round(_time.GetElapsedTime(t1).TotalMilliseconds)} ms", null, details);
        }

        double ms = _time.GetElapsedTime(t1).TotalMilliseconds;
        details["connectMs"] = Math.Round(ms, 3);
        if (socket.RemoteEndPoint is IPEndPoint remote)
        {
            // The dual-mode socket reports an IPv4 peer as ::ffff:a.b.c.d; show the address as connected to.
            var address = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
            details["remoteAddress"] = address.ToString();
        }

        return new RunOutcome(CheckState.OK, $"connected to {o.Host}:{o.Port} in {Math.Round(ms, 1)} ms", null, details);
    }
}
