using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tocsin.Configuration;

namespace Tocsin.Checks.Command;

/// <summary>
/// Keeps the <see cref="CheckCatalog"/>'s discovered checks equal to what the promise directories hold, without a restart:
/// a <see cref="FileSystemWatcher"/> per directory triggers a rescan shortly after a file is added, changed (content,
/// executable bit, its <c>.cfg</c>), renamed or removed (events within <see cref="DebounceDelay"/> make one rescan), and
/// a rescan runs every <see cref="RescanInterval"/> anyway, since watchers miss events (overflow, network file systems,
/// a directory created after the start). A rescan reads every directory again (<see cref="PromiseDirectory.Scan"/>) and
/// publishes a new snapshot only when something differs.
/// </summary>
public sealed partial class PromiseWatcher : IHostedService, IDisposable
{
    /// <summary>The default of <see cref="RescanInterval"/>: 30 s.</summary>
    public static readonly TimeSpan DefaultRescanInterval = TimeSpan.FromSeconds(30);

    private readonly CheckCatalog _catalog;
    private readonly IReadOnlyList<string> _directories;
    private readonly TimeZoneInfo _zone;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Dictionary<string, FileSystemWatcher> _watchers = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _scanGate = new();
    private Task? _loop;
    private long _scans;
    private IReadOnlyList<string> _loggedProblems = [];

    /// <summary>Creates the watcher of <paramref name="directories"/> (absolute paths) feeding <paramref name="catalog"/>.</summary>
    public PromiseWatcher(CheckCatalog catalog, IReadOnlyList<string> directories, TimeZoneInfo zone, TimeProvider time, ILogger<PromiseWatcher> logger)
    {
        _catalog = catalog;
        _directories = directories;
        _zone = zone;
        _time = time;
        _logger = logger;
    }

    /// <summary>Time between two rescans when no file event came. <value>Default: 30 s.</value></summary>
    public TimeSpan RescanInterval { get; init; } = DefaultRescanInterval;

    /// <summary>How long after a file event the rescan waits for more events. <value>Default: 250 ms.</value></summary>
    public TimeSpan DebounceDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Rescans done so far.</summary>
    public long Scans => Interlocked.Read(ref _scans);

    /// <summary>
    /// The catalog of <paramref name="config"/>'s checks plus, when it has promise directories, the promises found by one
    /// scan now: what <c>tocsin status</c>, <c>tocsin start --once</c> and the agent's first schedule see.
    /// </summary>
    public static CheckCatalog LoadCatalog(TocsinConfig config, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(time);
        var catalog = new CheckCatalog(config.Checks);
        if (config.PromiseDirectories.Count > 0)
        {
            var scan = PromiseDirectory.Scan(config.PromiseDirectories, config.TimeZone, time.GetUtcNow());
            catalog.SetDiscovered(scan.Checks, scan.Problems, PromiseDirectory.Same);
        }

        return catalog;
    }

    /// <summary>Scans the directories now and publishes what changed.</summary>
    /// <returns>The new snapshot, or null when nothing changed.</returns>
    public CheckCatalogSnapshot? Rescan()
    {
        lock (_scanGate)
        {
            Interlocked.Increment(ref _scans);
            var scan = PromiseDirectory.Scan(_directories, _zone, _time.GetUtcNow());
            var before = _catalog.Current;
            var snapshot = _catalog.SetDiscovered(scan.Checks, scan.Problems, PromiseDirectory.Same);
            if (snapshot is not null)
            {
                LogChanges(before, snapshot);
            }

            return snapshot;
        }
    }

    /// <summary>Logs the current problems and disabled promises once, then starts watching.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        LogChanges(new CheckCatalogSnapshot(0, [], []), _catalog.Current);
        EnsureWatchers();
        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Stops watching.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        DisposeWatchers();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        DisposeWatchers();
        _stopping.Dispose();
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                using (var period = new CancellationTokenSource(RescanInterval, _time))
                using (var wait = CancellationTokenSource.CreateLinkedTokenSource(stopping, period.Token))
                {
                    try
                    {
                        await _signal.Reader.ReadAsync(wait.Token).ConfigureAwait(false);
                        // More events usually follow (an editor writes, renames, chmods): let them settle.
                        await Task.Delay(DebounceDelay, _time, stopping).ConfigureAwait(false);
                        _signal.Reader.TryRead(out _);
                    }
                    catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
                    {
                        // The periodic rescan.
                    }
                }

                Rescan();
                EnsureWatchers();
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // A scan must never stop the watching: the next event or period tries again.
                LogScanFailed(_logger, ex);
            }
        }
    }

    private void EnsureWatchers()
    {
        lock (_scanGate)
        {
            EnsureWatchersLocked();
        }
    }

    private void EnsureWatchersLocked()
    {
        foreach (string directory in _directories)
        {
            if (_watchers.ContainsKey(directory) || !Directory.Exists(directory))
            {
                continue;
            }

            FileSystemWatcher? watcher = null;
            try
            {
                watcher = new FileSystemWatcher(directory)
                {
                    IncludeSubdirectories = false,
                    NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Attributes | NotifyFilters.Size,
                };
                watcher.Created += OnEvent;
                watcher.Changed += OnEvent;
                watcher.Deleted += OnEvent;
                watcher.Renamed += OnEvent;
                watcher.Error += OnError;
                watcher.EnableRaisingEvents = true;
                _watchers[directory] = watcher;
                watcher = null;
            }
            catch (Exception ex) when (ex is IOException or ArgumentException or UnauthorizedAccessException or PlatformNotSupportedException)
            {
                LogWatchFailed(_logger, directory, ex.Message, RescanInterval);
            }
            finally
            {
                watcher?.Dispose();
            }
        }
    }

    private void OnEvent(object sender, FileSystemEventArgs e) => _signal.Writer.TryWrite(true);

    private void OnError(object sender, ErrorEventArgs e)
    {
        // An overflow or a removed directory: rescan now, and watch again (the directory may be back) at the next pass.
        _signal.Writer.TryWrite(true);
        if (sender is FileSystemWatcher w)
        {
            lock (_scanGate)
            {
                if (_watchers.Remove(w.Path))
                {
                    w.Dispose();
                }
            }
        }
    }

    private void DisposeWatchers()
    {
        lock (_scanGate)
        {
            foreach (var w in _watchers.Values)
            {
                w.Dispose();
            }

            _watchers.Clear();
        }
    }

    private void LogChanges(CheckCatalogSnapshot before, CheckCatalogSnapshot after)
    {
        var old = before.Checks.Where(c => c.Promise is not null).ToDictionary(c => c.Name, StringComparer.Ordinal);
        foreach (var check in after.Checks.Where(c => c.Promise is not null))
        {
            bool known = old.Remove(check.Name, out var was);
            string schedule = check.Schedule?.ToString() ?? "-";
            if (!known)
            {
                LogPromiseAdded(_logger, check.Name, check.Promise!.Path, schedule);
            }
            else if (!PromiseDirectory.Same(was!, check))
            {
                LogPromiseChanged(_logger, check.Name, schedule);
            }

            if (check.DisabledReason is { } reason && (was is null || was.DisabledReason != reason))
            {
                LogPromiseDisabled(_logger, check.Name, reason);
            }
        }

        foreach (var gone in old.Keys)
        {
            LogPromiseRemoved(_logger, gone);
        }

        foreach (string problem in after.Problems.Except(_loggedProblems, StringComparer.Ordinal))
        {
            LogProblem(_logger, problem);
        }

        _loggedProblems = after.Problems;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Promise {Check} added from {Path}, schedule {Schedule}")]
    private static partial void LogPromiseAdded(ILogger logger, string check, string path, string schedule);

    [LoggerMessage(Level = LogLevel.Information, Message = "Promise {Check} changed, schedule {Schedule}")]
    private static partial void LogPromiseChanged(ILogger logger, string check, string schedule);

    [LoggerMessage(Level = LogLevel.Information, Message = "Promise {Check} removed: no longer scheduled")]
    private static partial void LogPromiseRemoved(ILogger logger, string check);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Promise {Check} is disabled: {Reason}")]
    private static partial void LogPromiseDisabled(ILogger logger, string check, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Problem}")]
    private static partial void LogProblem(ILogger logger, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot watch promise directory {Directory} ({Reason}); changes there are seen by the rescan every {Interval}")]
    private static partial void LogWatchFailed(ILogger logger, string directory, string reason, TimeSpan interval);

    [LoggerMessage(Level = LogLevel.Error, Message = "Scanning the promise directories failed; trying again at the next change or rescan")]
    private static partial void LogScanFailed(ILogger logger, Exception ex);
}
