using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tocsin.Alerting;
using Tocsin.Checks;
using Tocsin.Checks.Command;
using Tocsin.Checks.Heartbeat;
using Tocsin.Configuration;
using Npgsql;
using Tocsin.Diagnostics;
using Tocsin.Fleet;
using Tocsin.Ingestion;
using Tocsin.Export;
using Tocsin.Scheduling;
using Tocsin.Status;
using Tocsin.Storage;
using Tocsin.Storage.Postgres;
using Tocsin.Storage.Sqlite;
using Tocsin.Web;
using Tocsin.Web.Dashboard;
using Tocsin.Web.Ingestion;

namespace Tocsin.Cli;

/// <summary>Composes the running agent: engine services, the result writer, the scheduler and the web server.</summary>
internal static class AgentHost
{
    /// <summary>Builds the web application for <c>tocsin start</c>.</summary>
    public static WebApplication Build(TocsinConfig config, SqliteOutbox outbox, string urls, LogLevel level, bool notifySystemd)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseUrls(urls);
        ConfigureLogging(builder.Logging, level);
        if (notifySystemd)
        {
            builder.Services.AddSystemd();
        }

        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        AddEngine(builder.Services, config, outbox);
        if (config.SlapOsPublicFolder is { } publicFolder)
        {
            // Registered before the agent so that it stops after it: the last results committed get their files.
            builder.Services.AddSingleton(sp => new SlapOsStatusFiles(
                publicFolder, outbox, sp.GetRequiredService<ResultWriter>(), sp.GetRequiredService<ILogger<SlapOsStatusFiles>>()));
            builder.Services.AddHostedService(sp => sp.GetRequiredService<SlapOsStatusFiles>());
        }

        builder.Services.AddSingleton<Agent>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Agent>());
        if (config.PromiseDirectories.Count > 0)
        {
            // Promise files added, changed or removed while the agent runs change the catalog, which the scheduler follows.
            builder.Services.AddSingleton(sp => new PromiseWatcher(
                sp.GetRequiredService<CheckCatalog>(), config.PromiseDirectories, config.TimeZone, sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILogger<PromiseWatcher>>()));
            builder.Services.AddHostedService(sp => sp.GetRequiredService<PromiseWatcher>());
        }

        AddIngestion(builder.Services, config);
        builder.Services.AddSingleton<PrometheusMetrics>();
        builder.Services.AddTocsinAccess(config.WebAuth);
        builder.Services.AddTocsinApi();
        builder.Services.AddTocsinDashboard();
        var app = builder.Build();
        var loggers = app.Services.GetRequiredService<ILoggerFactory>();
        FailPoints.LogActive(loggers.CreateLogger(typeof(FailPoints).FullName!));
        AuthSetup.LogAccessAtStart(loggers.CreateLogger(typeof(AuthSetup).FullName!), urls, config.WebAuth);
        app.UseTocsinAccess();
        // Write endpoints: credentials when web.auth is set, and never from another site's page (CSRF).
        app.MapTocsinApi(write => write.RequireAuthorization(AuthSetup.WritePolicy).RefuseCrossOrigin());
        // Heartbeat pings: the token in the path is the credential (curl from cron jobs), so no write policy and no CSRF filter.
        app.MapHeartbeatPings();
        if (config.Ingestion.Enabled)
        {
            // Seed 002's /ws and the HTTP uploads: ingestion tokens are their credentials (never web.auth's).
            app.MapIngestion();
        }

        app.MapTocsinMetrics();
        app.MapTocsinPrivate();
        app.MapSlapOs(write => write.RequireAuthorization(AuthSetup.WritePolicy).RefuseCrossOrigin());
        app.MapFeeds();
        app.MapDashboard(write => write.RequireAuthorization(AuthSetup.WritePolicy));
        app.MapOpenApi();
        return app;
    }

    /// <summary>
    /// Registers seed 002's log and notification backend when <c>ingestion.enabled</c>: the store (the central PostgreSQL when
    /// configured, else its SQLite file), readied by <see cref="IngestionService"/>, the batching writer, the live fan-out
    /// (LISTEN/NOTIFY across replicas with PostgreSQL), the request handler of <c>/ws</c> and HTTP, and retention.
    /// </summary>
    public static void AddIngestion(IServiceCollection services, TocsinConfig config)
    {
        if (!config.Ingestion.Enabled)
        {
            return;
        }

        services.AddSingleton(config.Ingestion);
        services.AddSingleton(sp => IngestionStores.Create(config, sp.GetRequiredService<TimeProvider>(), sp.GetService<NpgsqlDataSource>()));
        services.AddSingleton<IngestionWriter>();
        services.AddSingleton<IIngestionWriter>(sp => sp.GetRequiredService<IngestionWriter>());
        // Live notifications: this process's user sockets, and with PostgreSQL every replica's, through LISTEN/NOTIFY.
        services.AddSingleton<INotificationFanout>(sp => sp.GetService<NpgsqlDataSource>() is { } central
            ? new Ingestion.Postgres.PostgresNotificationFanout(
                central, sp.GetRequiredService<IIngestionStore>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>(),
                metrics: sp.GetService<TocsinMetrics>())
            : new LocalNotificationFanout(sp.GetRequiredService<ILogger<LocalNotificationFanout>>(), metrics: sp.GetService<TocsinMetrics>()));
        services.AddSingleton<IngestionHandler>();
        services.AddHostedService<IngestionService>();
        services.AddHostedService<IngestionRetention>();
    }

    /// <summary>
    /// Registers the engine: time, metrics, heartbeat pings (stored in the outbox), check kinds, the check catalog (configured checks and, with promise directories,
    /// the promises found by one scan now), the (already open) outbox, writer, executor, scheduler,
    /// collector, the check status reader, and when <see cref="TocsinConfig.ExternalDatabaseUri"/> is set the PostgreSQL data source,
    /// exporter, fleet membership and central status reader.
    /// </summary>
    public static void AddEngine(IServiceCollection services, TocsinConfig config, SqliteOutbox outbox)
    {
        services.AddSingleton(config);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new TocsinMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.AddSingleton(sp => new HeartbeatPings(sp.GetRequiredService<TimeProvider>(), outbox)
        {
            // With several agents, a ping may reach any of them: shared through the central database.
            Share = sp.GetService<NpgsqlDataSource>() is { } central ? new CentralHeartbeats(central) : null,
        });
        services.AddSingleton(sp =>
        {
            var kinds = CheckKinds.CreateDefault(sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<HeartbeatPings>());
            if (sp.GetService<AgentFleet>() is { } fleet && kinds.Get(Checks.RocketChatApps.RocketChatAppsCheckKind.KindName) is Checks.RocketChatApps.RocketChatAppsCheckKind apps)
            {
                // With several agents, only the leader changes apps; the others report what they would do.
                apps.CanRemediate = () => fleet.IsLeader;
            }

            return kinds;
        });
        services.AddSingleton(sp => PromiseWatcher.LoadCatalog(config, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(outbox);
        services.AddSingleton(new ResultWriterOptions { Thresholds = State.StateThresholds.Lookup(config.Checks) });
        services.AddSingleton<ResultWriter>();
        services.AddSingleton<IResultSink>(sp => sp.GetRequiredService<ResultWriter>());
        services.AddSingleton<CheckExecutor>();
        services.AddSingleton(new CollectorOptions
        {
            LocalRetention = config.LocalRetention,
            ExportedOnly = config.ExternalDatabaseUri is not null,
            MaxOutboxSize = config.MaxOutboxSize,
        });
        services.AddSingleton<Collector>();
        if (config.ExternalDatabaseUri is { } external)
        {
            // One data source for the process, built when the exporter is first needed; disposed with the container.
            services.AddSingleton(_ =>
            {
                var builder = new NpgsqlDataSourceBuilder(PostgresConnectionString.Resolve(external, config.ExternalDatabasePasswordFile));
                builder.ConnectionStringBuilder.ApplicationName ??= "tocsin";
                return builder.Build();
            });
            services.AddSingleton(sp => new CentralStatusReader(sp.GetRequiredService<NpgsqlDataSource>()));
            services.AddSingleton(new ExporterOptions { CentralRetention = config.CentralRetention });
            services.AddSingleton<Exporter>();
            services.AddSingleton(new FleetOptions { HeartbeatInterval = config.HeartbeatInterval });
            services.AddSingleton(sp => new AgentFleet(
                sp.GetRequiredService<NpgsqlDataSource>(), outbox.AgentId, Environment.MachineName, VersionInfo.Version,
                sp.GetRequiredService<FleetOptions>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<AgentFleet>>()));
        }

        services.AddSingleton(sp => new CheckStatusReader(outbox, sp.GetService<CentralStatusReader>(), sp.GetRequiredService<ILogger<CheckStatusReader>>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new SchedulerOptions
        {
            MaxConcurrentRuns = config.MaxConcurrentRuns,
            Owns = sp.GetService<AgentFleet>() is { } fleet ? fleet.Owns : null,
        });
        AddAlerting(services, config, outbox);
        services.AddSingleton(sp => new Scheduler(
            sp.GetRequiredService<CheckCatalog>(), sp.GetRequiredService<CheckExecutor>(), sp.GetRequiredService<IResultSink>(), sp.GetRequiredService<SchedulerOptions>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<TocsinMetrics>(), sp.GetRequiredService<ILogger<Scheduler>>()));
    }

    /// <summary>Logging categories that write request paths below Warning; kept at Warning whatever the verbosity.</summary>
    internal static readonly string[] PathLoggingCategories =
    [
        "Microsoft.AspNetCore.Hosting.Diagnostics",
        "Microsoft.AspNetCore.Routing.Matching",
        "Microsoft.AspNetCore.Server.Kestrel",
    ];

    /// <summary>
    /// Registers alerting: the configured channels (one shared HTTP client), the alert store (the outbox for a single agent;
    /// the central database when one is configured, where only the leader notifies) and the <see cref="Notifier"/>, started
    /// and stopped as a hosted service and woken whenever the writer commits alert events.
    /// </summary>
    public static void AddAlerting(IServiceCollection services, TocsinConfig config, SqliteOutbox outbox)
    {
        services.AddSingleton(sp =>
        {
            var context = new NotificationChannelContext(NotificationChannelTypes.CreateHttpClient(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>());
            var types = NotificationChannelTypes.CreateDefault();
            return config.Notifications.ToDictionary(d => d.Name, d => types.Get(d.Type).Create(d.Name, d.Options, context), StringComparer.Ordinal);
        });
        services.AddSingleton<IAlertStore>(sp => sp.GetService<NpgsqlDataSource>() is { } central
            ? new PostgresAlertStore(central)
            : new SqliteAlertStore(outbox));
        services.AddSingleton(sp =>
        {
            var fleet = sp.GetService<AgentFleet>();
            var notifier = new Notifier(
                sp.GetRequiredService<IAlertStore>(), sp.GetRequiredService<CheckCatalog>(), config.Maintenance,
                sp.GetRequiredService<Dictionary<string, INotificationChannel>>(), fleet is null ? () => true : () => fleet.IsLeader,
                new NotifierOptions { PublicUrl = config.WebPublicUrl, DeliveryTimeout = config.DeliveryTimeout, MaxAge = config.DeliveryGiveUpAfter }, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<TocsinMetrics>(),
                sp.GetRequiredService<ILogger<Notifier>>());
            if (fleet is null)
            {
                outbox.AlertEventsWritten += notifier.Wake;
            }

            return notifier;
        });
        services.AddHostedService(sp => new NotifierService(sp.GetRequiredService<Notifier>()));
    }

    /// <summary>
    /// Logs go to stderr: JSON lines when stderr is not a terminal (journald, files, pipes), plain
    /// lines otherwise. Framework categories are kept at Warning unless very verbose.
    /// </summary>
    public static void ConfigureLogging(ILoggingBuilder logging, LogLevel level)
    {
        logging.ClearProviders();
        logging.SetMinimumLevel(level);
        logging.AddFilter("Microsoft", level <= LogLevel.Trace ? level : LogLevel.Warning);
        logging.AddFilter("Microsoft.Hosting.Lifetime", level <= LogLevel.Information ? LogLevel.Information : level);
        logging.AddFilter("System.Net.Http", LogLevel.Warning);
        // These categories' lines below Warning (shown with -vv) carry the request path or target ("Request starting …", the
        // route matcher's candidates, Kestrel's bad request data), and a heartbeat ping's path holds its token: secrets never
        // reach a log line.
        foreach (string category in PathLoggingCategories)
        {
            logging.AddFilter(category, LogLevel.Warning);
        }
        if (Console.IsErrorRedirected)
        {
            logging.AddJsonConsole(o =>
            {
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }
        else
        {
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "HH:mm:ss ";
            });
        }

        logging.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
    }
}


/// <summary>Starts the notifier with the host and stops it (before the outbox closes) when the host stops.</summary>
internal sealed class NotifierService(Notifier notifier) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        notifier.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => notifier.StopAsync();
}
