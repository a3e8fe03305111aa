using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tocsin.Checks;
using Tocsin.Status;
using Tocsin.Storage;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Web;

/// <summary>
/// Writes <c>&lt;name&gt;.status.json</c> into a SlapOS public folder (config <c>slapos.publicFolder</c>) after each
/// result is committed to the outbox, in SlapOS' status format: the same JSON as <c>GET /public/{name}.status.json</c>
/// (<see cref="SlapOsEndpoints.ToStatus"/>, from this agent's outbox), so SlapOS tooling that reads the files keeps working.
/// <para><b>Never blocks the result writer</b>: <see cref="ResultWriter.OnCommitted"/> only adds the batch's check names
/// to a set of pending names (at most <see cref="MaxPending"/>; beyond, counted and logged once) and wakes one background
/// loop. The loop takes the whole set, reads the check states once, and writes one file per name: only the newest
/// state of each check is written, however many results came meanwhile.</para>
/// <para><b>Atomic replace</b>: each file is written to a temporary file in the same folder
/// (<c>.tocsin-&lt;pid&gt;-&lt;n&gt;.tmp</c>, hidden) then renamed over the old one (rename(2)), so a reader sees the old
/// or the new file, never a part. No fsync: after a power loss a file may be the previous one (the next result rewrites it).
/// Temporary files older than a minute left by a crash are deleted at start.</para>
/// <para><b>Unsafe names</b> (empty, holding <c>/</c>, <c>\</c>, <c>..</c> or a control character, starting with
/// <c>.</c>, invalid UTF-16, or longer than <see cref="MaxNameBytes"/> UTF-8 bytes): no file; logged once per name with
/// the reason. <b>A folder that does not exist or is not writable</b>: logged once (a warning naming the folder and why)
/// until a file is written again (logged too); the results are stored as always and the names stay pending, so every
/// check's file is written at the next result once the folder is usable.</para>
/// </summary>
public sealed partial class SlapOsStatusFiles : IHostedService, IDisposable
{
    /// <summary>Longest check name written, in UTF-8 bytes, so that the file name (plus <c>.status.json</c>) stays under 255 bytes.</summary>
    public const int MaxNameBytes = 200;

    /// <summary>Most check names waiting for their file; names beyond are dropped (counted, logged once).</summary>
    public const int MaxPending = 100_000;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web); // as TypedResults.Json in the endpoint
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private static readonly TimeSpan RetryAfterReadFailure = TimeSpan.FromSeconds(1);

    private readonly SqliteOutbox _outbox;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly HashSet<string> _refused = new(StringComparer.Ordinal);
    private readonly string _tempPrefix = $".tocsin-{Environment.ProcessId}-";
    private HashSet<string> _pending = new(StringComparer.Ordinal);
    private Task? _loop;
    private string? _folderProblem;
    private bool _readFailing;
    private long _written;
    private long _dropped;
    private long _tempCounter;

    /// <summary>Writes into <paramref name="folder"/> the state of every check <paramref name="writer"/> commits from now on.</summary>
    public SlapOsStatusFiles(string folder, SqliteOutbox outbox, ResultWriter writer, ILogger<SlapOsStatusFiles> logger)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(writer);
        Folder = Path.GetFullPath(folder);
        _outbox = outbox;
        _logger = logger;
        writer.OnCommitted(Notify);
    }

    /// <summary>The folder written to (absolute).</summary>
    public string Folder { get; }

    /// <summary>Status files written (renamed into place) so far.</summary>
    public long FilesWritten => Interlocked.Read(ref _written);

    /// <summary>Check names dropped because <see cref="MaxPending"/> were already waiting.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Why the folder cannot be written to now (as logged), or <see langword="null"/> when the last attempt worked.</summary>
    public string? FolderProblem => Volatile.Read(ref _folderProblem);

    /// <summary>
    /// Why no file is written for <paramref name="name"/>, or <see langword="null"/> when it is a safe file name:
    /// see the class remarks.
    /// </summary>
    public static string? UnsafeReason(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0)
        {
            return "the name is empty";
        }

        if (name.Contains('/', StringComparison.Ordinal) || name.Contains('\\', StringComparison.Ordinal))
        {
            return "the name holds '/' or '\\' (a path, not a file name)";
        }

        if (name.Contains("..", StringComparison.Ordinal))
        {
            return "the name holds '..'";
        }

        if (name.Any(char.IsControl))
        {
            return "the name holds a control character";
        }

        if (name.StartsWith('.'))
        {
            return "the name starts with '.' (a hidden file)";
        }

        int bytes;
        try
        {
            bytes = StrictUtf8.GetByteCount(name);
        }
        catch (EncoderFallbackException)
        {
            return "the name holds an unpaired surrogate (not valid Unicode)";
        }

        return bytes > MaxNameBytes ? $"the name is {bytes} bytes long in UTF-8, more than {MaxNameBytes}" : null;
    }

    /// <summary>Starts the background loop (cleaning stale temporary files first); logs once when the folder is not usable.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_loop is not null)
        {
            return Task.CompletedTask;
        }

        if (!Directory.Exists(Folder))
        {
            FolderFailed($"it does not exist (SlapOS creates it with the instance; status files are written once it exists)");
        }
        else
        {
            DeleteStaleTempFiles();
        }

        _loop = Task.Run(LoopAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Stops after writing the files of the names already pending (call after the result writer stopped).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _wake.Writer.TryComplete();
        if (_loop is not null)
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _wake.Writer.TryComplete();

    /// <summary>Marks the checks of <paramref name="results"/> for a new file and wakes the loop; never blocks on I/O.</summary>
    public void Notify(IReadOnlyList<CheckResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        lock (_lock)
        {
            foreach (var r in results)
            {
                if (_pending.Count >= MaxPending && !_pending.Contains(r.CheckName))
                {
                    if (Interlocked.Increment(ref _dropped) == 1)
                    {
                        LogPendingFull(_logger, MaxPending);
                    }

                    continue;
                }

                _pending.Add(r.CheckName);
            }
        }

        _wake.Writer.TryWrite(true);
    }

    private async Task LoopAsync()
    {
        var reader = _wake.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            reader.TryRead(out _);
            if (!Flush())
            {
                await Task.Delay(RetryAfterReadFailure).ConfigureAwait(false);
            }
        }

        Flush();
    }

    /// <summary>Writes the files of every pending name; false when the states could not be read (the names stay pending).</summary>
    private bool Flush()
    {
        HashSet<string> names;
        lock (_lock)
        {
            if (_pending.Count == 0)
            {
                return true;
            }

            names = _pending;
            _pending = new HashSet<string>(StringComparer.Ordinal);
        }

        var safe = new List<string>(names.Count);
        foreach (string name in names)
        {
            if (UnsafeReason(name) is { } reason)
            {
                if (_refused.Add(name))
                {
                    LogUnsafeName(_logger, name, reason, Folder);
                }
            }
            else
            {
                safe.Add(name);
            }
        }

        if (safe.Count == 0)
        {
            return true;
        }

        IReadOnlyDictionary<string, CheckStatus> states;
        try
        {
            states = _outbox.ReadStates();
            _readFailing = false;
        }
        catch (SqliteException ex)
        {
            if (!_readFailing)
            {
                _readFailing = true;
                LogReadFailed(_logger, ex);
            }

            Requeue(safe, 0);
            return false;
        }

        for (int i = 0; i < safe.Count; i++)
        {
            if (!states.TryGetValue(safe[i], out var state))
            {
                continue; // no result any more (deleted by hand): nothing to show
            }

            byte[] json = JsonSerializer.SerializeToUtf8Bytes(SlapOsEndpoints.ToStatus(StatusReport.FromLocal(state, _outbox.AgentId), enabled: true), Json);
            if (!Write(safe[i], json))
            {
                Requeue(safe, i); // the folder is not usable: keep the rest for the next wake
                break;
            }
        }

        return true;
    }

    private void Requeue(List<string> names, int from)
    {
        lock (_lock)
        {
            for (int i = from; i < names.Count && _pending.Count < MaxPending; i++)
            {
                _pending.Add(names[i]);
            }
        }
    }

    /// <summary>Writes one file by temporary file + rename; false when the folder itself is not usable.</summary>
    private bool Write(string name, byte[] json)
    {
        string target = Path.Combine(Folder, name + SlapOsEndpoints.StatusSuffix);
        string temp = Path.Combine(Folder, _tempPrefix + Interlocked.Increment(ref _tempCounter).ToString(System.Globalization.CultureInfo.InvariantCulture) + ".tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1))
            {
                stream.Write(json);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            FolderFailed(Directory.Exists(Folder) ? $"it is not writable ({ex.Message})" : "it does not exist (status files are written once it exists)");
            return false;
        }

        try
        {
            File.Move(temp, target, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            if (_refused.Add(name))
            {
                LogFileFailed(_logger, ex, target);
            }

            return true; // this one file; the folder works
        }

        Interlocked.Increment(ref _written);
        if (Interlocked.Exchange(ref _folderProblem, null) is not null)
        {
            LogFolderWritable(_logger, Folder);
        }

        return true;
    }

    private void FolderFailed(string problem)
    {
        if (Interlocked.Exchange(ref _folderProblem, problem) is null)
        {
            LogFolderUnusable(_logger, Folder, problem);
        }
    }

    private void DeleteStaleTempFiles()
    {
        try
        {
            foreach (string file in Directory.EnumerateFiles(Folder, ".tocsin-*.tmp"))
            {
                if (DateTime.UtcNow - File.GetLastWriteTimeUtc(file) > TimeSpan.FromMinutes(1))
                {
                    TryDelete(file);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not listable: the first write says why.
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Left behind; deleted at a later start once stale.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Not writing SlapOS status files to {Folder}: {Problem}; results are still stored")]
    private static partial void LogFolderUnusable(ILogger logger, string folder, string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "Writing SlapOS status files to {Folder} again")]
    private static partial void LogFolderWritable(ILogger logger, string folder);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No SlapOS status file for check {Check}: {Reason} (folder {Folder}); its results are stored and shown as usual")]
    private static partial void LogUnsafeName(ILogger logger, string check, string reason, string folder);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not replace the SlapOS status file {Path}; the check's results are stored as usual")]
    private static partial void LogFileFailed(ILogger logger, Exception ex, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot read the check states for the SlapOS status files; retrying")]
    private static partial void LogReadFailed(ILogger logger, Exception ex);

    [LoggerMessage(Level = LogLevel.Error, Message = "More than {Max} checks wait for their SlapOS status file; names beyond are dropped (counted)")]
    private static partial void LogPendingFull(ILogger logger, int max);
}
