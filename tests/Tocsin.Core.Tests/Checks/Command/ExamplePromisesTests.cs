using System.Diagnostics;
using Tocsin.Checks;

namespace Tocsin.Core.Tests.Checks.Command;

/// <summary>Each script of <c>examples/promises/</c> run once as a command check on this machine.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ExamplePromisesTests : IDisposable
{
    private readonly CommandHarness _h = new();

    public void Dispose() => _h.Dispose();

    private static string Example(string name)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Tocsin.slnx")))
        {
            dir = dir.Parent;
        }

        Assert.NotNull(dir);
        return Path.Combine(dir.FullName, "examples", "promises", name);
    }

    [Fact]
    public async Task Disk_free_reports_nagios_output_with_perfdata()
    {
        var result = await _h.RunAsync(_h.Check([Example("check-disk-free"), _h.Folder, "0", "0"]));

        Assert.Equal(CheckState.OK, result.State);
        Assert.StartsWith($"DISK OK - {_h.Folder}: ", result.Message, StringComparison.Ordinal);
        var perf = result.Details!["perfdata"]!.AsArray();
        Assert.Equal(["free", "free_pct"], perf.Select(p => p!["label"]!.GetValue<string>()));
        Assert.Equal("B", perf[0]!["unit"]!.GetValue<string>());
        Assert.True(perf[0]!["value"]!.GetValue<double>() > 0);
    }

    [Fact]
    public async Task Disk_free_is_critical_below_the_threshold()
    {
        var result = await _h.RunAsync(_h.Check([Example("check-disk-free"), "/", "101", "101"]));

        Assert.Equal(CheckState.CRITICAL, result.State);
        Assert.StartsWith("DISK CRITICAL - /: ", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Load_reads_proc_loadavg()
    {
        var result = await _h.RunAsync(_h.Check([Example("check-load"), "1000", "2000"]));

        Assert.Equal(CheckState.OK, result.State);
        Assert.StartsWith("LOAD OK - load average: ", result.Message, StringComparison.Ordinal);
        Assert.Equal(["load1", "load5", "load15"], result.Details!["perfdata"]!.AsArray().Select(p => p!["label"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Newest_file_age_prints_a_slapos_status()
    {
        string backups = Directory.CreateDirectory(_h.File("backups")).FullName;
        await File.WriteAllTextAsync(Path.Combine(backups, "old.dump"), "x", TestContext.Current.CancellationToken);
        File.SetLastWriteTimeUtc(Path.Combine(backups, "old.dump"), DateTime.UtcNow.AddDays(-3));

        var stale = await _h.RunAsync(_h.Check([Example("newest-file-age"), backups, "86400"]));
        await File.WriteAllTextAsync(Path.Combine(backups, "new.dump"), "x", TestContext.Current.CancellationToken);
        var fresh = await _h.RunAsync(_h.Check([Example("newest-file-age"), backups, "86400"]));
        var missing = await _h.RunAsync(_h.Check([Example("newest-file-age"), _h.File("nowhere"), "60"]));

        Assert.Equal(CheckState.CRITICAL, stale.State);
        Assert.Matches("^newest file is 2592[0-9]{2} s old \\(limit 86400 s\\)$", stale.Message);
        Assert.Equal("status.json", stale.Details!["format"]!.GetValue<string>());
        Assert.Equal(Path.Combine(backups, "old.dump"), stale.Details["fields"]!["newest"]!.GetValue<string>());
        Assert.Equal(CheckState.OK, fresh.State);
        Assert.True(fresh.Details!["fields"]!["age-seconds"]!.GetValue<long>() < 60);
        Assert.Equal(CheckState.CRITICAL, missing.State);
        Assert.Equal($"folder not found: {_h.File("nowhere")}", missing.Message);
    }

    [Fact]
    public async Task Tls_expiry_counts_the_days_of_a_certificate_with_openssl()
    {
        string cert = _h.File("cert.pem");
        using (var openssl = Process.Start(new ProcessStartInfo("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", _h.File("key.pem"), "-out", cert, "-days", "10", "-subj", "/CN=tocsin-test"])
        {
            RedirectStandardError = true,
        })!)
        {
            await openssl.WaitForExitAsync(TestContext.Current.CancellationToken);
            Assert.Equal(0, openssl.ExitCode);
        }

        var warning = await _h.RunAsync(_h.Check([Example("check-tls-expiry"), cert, "14", "7"]));
        var ok = await _h.RunAsync(_h.Check([Example("check-tls-expiry"), cert, "5", "2"]));

        Assert.Equal(CheckState.WARNING, warning.State);
        Assert.Matches($"^TLS WARNING - certificate of {cert} expires in (9|10) days", warning.Message);
        var days = Assert.Single(warning.Details!["perfdata"]!.AsArray());
        Assert.Equal("days", days!["label"]!.GetValue<string>());
        Assert.Equal("14:", days["warn"]!.GetValue<string>());
        Assert.Equal(CheckState.OK, ok.State);
    }
}
