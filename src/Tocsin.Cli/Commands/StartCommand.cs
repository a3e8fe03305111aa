using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Hosting;
using Spectre.Console;
using Tocsin.Checks;
using Tocsin.Configuration;
using Tocsin.Scheduling;
using Tocsin.Storage;
using Tocsin.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Tocsin.Cli.Commands;

/// <summary><c>tocsin start</c>: runs the agent (scheduler, outbox writer, web server) until SIGINT/SIGTERM.</summary>
internal static class StartCommand
{
    public static Command Build(LogLevel level)
    {
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation (it is only asked when stdin is a terminal)." };
        var systemd = new Option<bool>("--notify-systemd", "-ns") { Description = "Tell systemd when started and stopping (Type=notify units)." };
        var urls = new Option<string?>("--urls") { Description = "Where the web server listens, e.g. http://127.0.0.1:8080 (overrides web.urls)." };
        var once = new Option<bool>("--once") { Description = "Run every check once, store the results, print them and exit with the worst state's code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)." };
        var cmd = new Command("start", "Start monitoring: run every check on its schedule and store each result locally. -v, -vv for more logs.")
        {
            yes, systemd, urls, once,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            string path = TocsinCommand.ResolveConfigPath(parse);
            var (config, dropInLevel) = LoadConfig(parse, path);
            if (dropInLevel is { } l && level == LogLevel.Information)
            {
                level = l; // the apps monitor's LOG_LEVEL, unless -v was given
            }

            path = config.SourcePath;
            using var outbox = OpenOutbox(config.LocalDatabasePath);
            if (outbox is null)
            {
                return 74;
            }

            if (parse.GetValue(once))
            {
                return await RunOnceAsync(config, outbox, level, ct).ConfigureAwait(false);
            }

            if (!parse.GetValue(yes) && !Console.IsInputRedirected
                && !AnsiConsole.Confirm($"Start monitoring {config.Checks.Count} check(s) from {Markup.Escape(path)}?"))
            {
                return 1;
            }

            string listen = parse.GetValue(urls) ?? config.WebUrls;
            await using var app = AgentHost.Build(config, outbox, listen, level, parse.GetValue(systemd));
            var stopping = app.Lifetime.ApplicationStopping;
            try
            {
                await app.StartAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                // SIGTERM/SIGINT while starting: the host gave up its start; stop what did start (the results already
                // made are written, the last export attempt runs) and exit as a requested stop does.
                await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
                return 0;
            }
            catch (IOException ex) when (ex.InnerException is SocketException || ex.Message.Contains("address", StringComparison.OrdinalIgnoreCase))
            {
                await Console.Error.WriteLineAsync($"tocsin: cannot listen on {listen}: {ex.Message} Set web.urls in the config or pass --urls.").ConfigureAwait(false);
                return 69;
            }

            // Until SIGTERM/SIGINT (or a stop from inside), then a graceful stop of everything.
            await app.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
            return 0;
        });
        return cmd;
    }

    /// <summary>
    /// The configuration at <paramref name="path"/>; or, when no configuration was named (no <c>--config-path</c>, no
    /// <c>TOCSIN_CONFIG</c>), none exists at the default path, and seed 000's apps monitor settings are present
    /// (<c>apps-monitor-config.json</c> in the working directory or its variables), a configuration with the equivalent
    /// <c>rocketchat-apps</c> check (the drop-in), with the level <c>LOG_LEVEL</c> asks for.
    /// </summary>
    /// <exception cref="ConfigException">When the configuration, or the apps monitor's settings, are invalid or incomplete.</exception>
    internal static (TocsinConfig Config, LogLevel? Level) LoadConfig(ParseResult parse, string path)
    {
        var loader = new ConfigLoader(CheckKinds.CreateDefault(TimeProvider.System));
        string dropIn = Path.GetFullPath(Checks.RocketChatApps.AppsMonitorImport.FileName);
        bool named = parse.GetValue(TocsinCommand.ConfigPath) is not null || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("TOCSIN_CONFIG"));
        if (named || File.Exists(path) || !Checks.RocketChatApps.AppsMonitorImport.IsPresent(dropIn, Environment.GetEnvironmentVariable))
        {
            return (loader.Load(path), null);
        }

        var warnings = new List<string>();
        var settings = Checks.RocketChatApps.AppsMonitorImport.Read(dropIn, Environment.GetEnvironmentVariable, warnings);
        foreach (string w in warnings)
        {
            Console.Error.WriteLine($"tocsin: warning: {w}");
        }

        var missing = Checks.RocketChatApps.AppsMonitorImport.Missing(settings);
        if (missing.Count > 0)
        {
            throw new ConfigException(string.Join(" and ", settings.Sources), $"the apps monitor settings lack {string.Join(", ", missing)}; give them, or a Tocsin configuration (--config-path)");
        }

        Console.Error.WriteLine($"tocsin: no configuration at {path}: running the Rocket.Chat apps monitor from {string.Join(" and ", settings.Sources)} (`tocsin import apps-monitor` writes it as a Tocsin check)");
        string json = Checks.RocketChatApps.AppsMonitorImport.ToConfigJson(settings, "~/.tocsin/local.db");
        return (loader.Parse(json, File.Exists(dropIn) ? dropIn : Path.Join(Environment.CurrentDirectory, "(environment)")), settings.LogLevel);
    }

    /// <summary>Opens the outbox, or prints why it cannot be opened (EX_IOERR, 74) and returns <see langword="null"/>.</summary>
    internal static SqliteOutbox? OpenOutbox(string path)
    {
        try
        {
            return new SqliteOutbox(path);
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            Console.Error.WriteLine($"tocsin: cannot open the local database {path}: {ex.Message}");
            return null;
        }
    }

    private static async Task<int> RunOnceAsync(TocsinConfig config, SqliteOutbox outbox, LogLevel level, CancellationToken ct)
    {
        var services = new ServiceCollection();
        services.AddLogging(l => AgentHost.ConfigureLogging(l, level < LogLevel.Warning ? level : LogLevel.Warning));
        AgentHost.AddEngine(services, config, outbox);
        await using var sp = services.BuildServiceProvider();
        var writer = sp.GetRequiredService<ResultWriter>();
        writer.Start();
        var results = await sp.GetRequiredService<Scheduler>().RunOnceAsync(ct).ConfigureAwait(false);
        await writer.StopAsync().ConfigureAwait(false);

        var table = new Table().AddColumns("Check", "State", "ms", "Message");
        var worst = CheckState.OK;
        foreach (var r in results)
        {
            worst = CheckStates.Worst(worst, r.State);
            table.AddRow(Markup.Escape(r.CheckName), StatusCommand.Colour(r.State.ToString()), r.DurationMs.ToString("0.#", CultureInfo.InvariantCulture), Markup.Escape(r.Message));
        }

        AnsiConsole.Write(table);
        return (int)worst;
    }
}
