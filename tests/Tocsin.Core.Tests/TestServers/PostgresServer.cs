using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Tocsin.Core.Tests.TestServers;

/// <summary>
/// A real PostgreSQL server started from the installed binaries in a temp folder, listening on
/// 127.0.0.1 on a free port. Superuser <c>postgres</c>; TCP connections authenticate with
/// scram-sha-256 and <see cref="Password"/>, the Unix socket (in the data folder) trusts.
/// When the tests run as root the binaries run as the <c>postgres</c> user (<c>runuser</c>) on a
/// folder it owns. Use as a class fixture; make a database per test with <see cref="CreateDatabaseAsync"/>.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private static readonly bool IsRoot = Environment.UserName == "root";

    private readonly string _root = Path.Combine(Path.GetTempPath(), "tocsin-pg-" + Guid.NewGuid().ToString("N")[..12]);

    /// <summary>Folder with initdb, pg_ctl and postgres.</summary>
    public string BinDir { get; } = FindBinDir();

    /// <summary>The data folder (also holds the Unix socket).</summary>
    public string DataDir => Path.Combine(_root, "data");

    /// <summary>The TCP port on 127.0.0.1.</summary>
    public int Port { get; private set; }

    /// <summary>The superuser's password (for TCP connections).</summary>
    public string Password { get; } = "pw-" + Guid.NewGuid().ToString("N");

    /// <summary>Connection string for the superuser on database <paramref name="database"/>.</summary>
    public string ConnectionString(string database = "postgres") => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = "postgres",
        Password = Password,
        Database = database,
        Pooling = false,
        Timeout = 5,
    }.ConnectionString;

    /// <summary>Whether the server is running (as far as this fixture started and stopped it).</summary>
    public bool IsRunning { get; private set; }

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        string pwFile = Path.Combine(_root, "pwfile");
        await File.WriteAllTextAsync(pwFile, Password + "\n");
        if (IsRoot)
        {
            await RunAsync("chown", ["-R", "postgres:postgres", _root], asPostgres: false);
        }

        await RunAsync(Path.Combine(BinDir, "initdb"),
            ["-D", DataDir, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile", pwFile, "-E", "UTF8", "--no-sync", "--locale=C"]);
        Port = FreePort();
        await StartAsync();
    }

    /// <summary>Starts the (stopped or killed) server on the same port and waits until it accepts connections.</summary>
    public async Task StartAsync()
    {
        string options = $"-p {Port} -k {DataDir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=100";
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await RunAsync(Path.Combine(BinDir, "pg_ctl"), ["-D", DataDir, "-l", Path.Combine(_root, "server.log"), "-o", options, "-w", "-t", "60", "start"]);
                break;
            }
            catch (InvalidOperationException) when (attempt < 5)
            {
                // After a SIGKILL of the postmaster its backends may hold the shared memory a moment.
                await Task.Delay(500);
            }
        }

        IsRunning = true;
    }

    /// <summary>Stops the server (fast shutdown: connections are cut) and waits until it is down.</summary>
    public async Task StopAsync()
    {
        await RunAsync(Path.Combine(BinDir, "pg_ctl"), ["-D", DataDir, "-m", "fast", "-w", "-t", "60", "stop"]);
        IsRunning = false;
    }

    /// <summary>Kills the postmaster with SIGKILL (a crash); its backends exit when they notice.</summary>
    public void Kill()
    {
        string pidFile = Path.Combine(DataDir, "postmaster.pid");
        int pid = int.Parse(File.ReadLines(pidFile).First().Trim(), System.Globalization.CultureInfo.InvariantCulture);
        using var p = Process.GetProcessById(pid);
        p.Kill();
        p.WaitForExit(10_000);
        IsRunning = false;
    }

    /// <summary>Creates a fresh empty database and returns a connection string to it (pooling on).</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        string name = "t_" + Guid.NewGuid().ToString("N");
        await using (var c = new NpgsqlConnection(ConnectionString()))
        {
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand($"CREATE DATABASE {name}", c);
            await cmd.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(ConnectionString(name)) { Pooling = true }.ConnectionString;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (File.Exists(Path.Combine(DataDir, "postmaster.pid")))
            {
                await RunAsync(Path.Combine(BinDir, "pg_ctl"), ["-D", DataDir, "-m", "immediate", "-w", "stop"]);
            }
        }
        catch (InvalidOperationException)
        {
            // Already down.
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }

    /// <summary>
    /// The folder of the PostgreSQL binaries: <c>pg_config --bindir</c> when it has initdb, else the
    /// newest <c>/usr/lib/postgresql/*/bin</c>.
    /// </summary>
    public static string FindBinDir()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("pg_config", "--bindir") { RedirectStandardOutput = true, RedirectStandardError = true });
            if (p is not null)
            {
                string dir = p.StandardOutput.ReadToEnd().Trim();
                p.WaitForExit();
                if (p.ExitCode == 0 && File.Exists(Path.Combine(dir, "initdb")))
                {
                    return dir;
                }
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // No pg_config on the PATH.
        }

        var newest = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => (Dir: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), out int v) ? v : 0))
                .Where(x => File.Exists(Path.Combine(x.Dir, "initdb")))
                .OrderByDescending(x => x.Version)
                .Select(x => x.Dir)
                .FirstOrDefault()
            : null;
        return newest ?? throw new InvalidOperationException(
            "PostgreSQL binaries not found (no pg_config --bindir, no /usr/lib/postgresql/*/bin/initdb); install the postgresql package (scripts/test does).");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static async Task RunAsync(string file, string[] args, bool asPostgres = true)
    {
        var psi = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (asPostgres && IsRoot)
        {
            psi.FileName = "runuser";
            foreach (string a in (string[])["-u", "postgres", "--", file, .. args])
            {
                psi.ArgumentList.Add(a);
            }
        }
        else
        {
            psi.FileName = file;
            foreach (string a in args)
            {
                psi.ArgumentList.Add(a);
            }
        }

        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await p.WaitForExitAsync(cts.Token);
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(file)} {string.Join(' ', args)} exited {p.ExitCode}: {await stdout}{await stderr}");
        }
    }
}
