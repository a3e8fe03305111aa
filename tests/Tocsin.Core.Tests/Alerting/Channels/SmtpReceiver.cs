using System.Diagnostics;
using System.Text.Json;
using Tocsin.Core.Tests.TestServers;

namespace Tocsin.Core.Tests.Alerting.Channels;

/// <summary>One message the SMTP receiver accepted.</summary>
internal sealed record SavedMail(string From, IReadOnlyList<string> To, string? Login, bool StartTls, string Mode, string Data);

/// <summary>
/// A real SMTP server: Debian's python3-aiosmtpd running <c>smtp_receiver.py</c> as a child process on a free loopback port,
/// saving each accepted message as JSON in a temp folder. Modes: <c>none</c>, <c>starttls</c> (required), <c>tls</c>
/// (implicit). With a user, AUTH is required (and, with STARTTLS, only after it).
/// </summary>
internal sealed class SmtpReceiver : IAsyncDisposable
{
    /// <summary>The system Python with Debian's packages (the pyenv one on PATH does not have aiosmtpd).</summary>
    public const string Python = "/usr/bin/python3";

    private readonly Process _process;
    private readonly TempFolder _folder;

    private SmtpReceiver(Process process, TempFolder folder, int port)
    {
        _process = process;
        _folder = folder;
        Port = port;
    }

    public int Port { get; }

    /// <summary>Starts the server; fails (never skips) with how to install aiosmtpd when it is missing.</summary>
    public static async Task<SmtpReceiver> StartAsync(string mode, Certificates? certificates = null, string? user = null, string? password = null)
    {
        await RequireAiosmtpdAsync();
        var folder = new TempFolder();
        int port = KestrelTarget.ClosedPort();
        var start = new ProcessStartInfo(Python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in (string[])["-u", Path.Combine(AppContext.BaseDirectory, "Alerting", "Channels", "smtp_receiver.py"), "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--folder", folder.Path, "--mode", mode])
        {
            start.ArgumentList.Add(arg);
        }

        if (certificates is not null)
        {
            start.ArgumentList.Add("--cert");
            start.ArgumentList.Add(certificates.ServerCertificate);
            start.ArgumentList.Add("--key");
            start.ArgumentList.Add(certificates.ServerKey);
        }

        if (user is not null)
        {
            start.ArgumentList.Add("--user");
            start.ArgumentList.Add(user);
            start.Environment["TOCSIN_TEST_SMTP_PASSWORD"] = password ?? "";
        }

        var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        string? line = await process.StandardOutput.ReadLineAsync(timeout.Token);
        if (line is null || !line.StartsWith("READY", StringComparison.Ordinal))
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            folder.Dispose();
            throw new InvalidOperationException($"the SMTP receiver did not start (stdout: {line ?? "(closed)"}): {await stderr}");
        }

        return new SmtpReceiver(process, folder, port);
    }

    /// <summary>The messages accepted so far, in order.</summary>
    public IReadOnlyList<SavedMail> Messages() =>
        [.. Directory.GetFiles(_folder.Path, "*.json")
            .OrderBy(f => int.Parse(Path.GetFileNameWithoutExtension(f), System.Globalization.CultureInfo.InvariantCulture))
            .Select(f =>
            {
                using var doc = JsonDocument.Parse(File.ReadAllText(f));
                var r = doc.RootElement;
                return new SavedMail(
                    r.GetProperty("from").GetString()!, [.. r.GetProperty("to").EnumerateArray().Select(t => t.GetString()!)],
                    r.GetProperty("login").GetString(), r.GetProperty("starttls").GetBoolean(), r.GetProperty("mode").GetString()!,
                    r.GetProperty("data").GetString()!);
            })];

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
        _folder.Dispose();
    }

    private static async Task RequireAiosmtpdAsync()
    {
        var check = new ProcessStartInfo(Python, ["-c", "import aiosmtpd"]) { RedirectStandardError = true, UseShellExecute = false };
        Process? p = null;
        try
        {
            p = Process.Start(check);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // Reported below.
        }

        using (p)
        {
            if (p is not null)
            {
                await p.WaitForExitAsync();
            }

            if (p is null || p.ExitCode != 0)
            {
                Assert.Fail($"The email tests need a real SMTP server: Debian's python3-aiosmtpd for {Python}. Install it with `apt-get install -y python3-aiosmtpd` (scripts/test does).");
            }
        }
    }

    /// <summary>A CA and a server certificate it signed (for <c>localhost</c> and <c>127.0.0.1</c>), made by openssl in a temp folder.</summary>
    internal sealed class Certificates : IDisposable
    {
        private readonly TempFolder _folder = new();

        private Certificates()
        {
        }

        public string CaCertificate => _folder.File("ca.pem");

        public string ServerCertificate => _folder.File("server.pem");

        public string ServerKey => _folder.File("server.key");

        public static async Task<Certificates> CreateAsync(string caName = "Tocsin Test CA")
        {
            var c = new Certificates();
            File.WriteAllText(c._folder.File("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n");
            await OpenSslAsync(c._folder.Path, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=" + caName);
            await OpenSslAsync(c._folder.Path, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
            await OpenSslAsync(c._folder.Path, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf");
            return c;
        }

        public void Dispose() => _folder.Dispose();

        private static async Task OpenSslAsync(string folder, params string[] args)
        {
            var start = new ProcessStartInfo("openssl", args) { WorkingDirectory = folder, RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            using var p = Process.Start(start)!;
            string err = await p.StandardError.ReadToEndAsync();
            await p.StandardOutput.ReadToEndAsync();
            await p.WaitForExitAsync();
            Assert.True(p.ExitCode == 0, $"openssl {string.Join(' ', args)} failed: {err}");
        }
    }
}
