using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tocsin.Checks;
using Tocsin.Diagnostics;
using Tocsin.IntegrationTests.Fixtures;
using Tocsin.Storage;
using Tocsin.Storage.Sqlite;
using Tocsin.Web;

namespace Tocsin.IntegrationTests;

/// <summary>
/// <see cref="SlapOsStatusFiles"/> in-process with a real <see cref="SqliteOutbox"/> and <see cref="ResultWriter"/> in a
/// temp folder: atomic replace under a reader loop, unsafe names, a missing and a read-only folder.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SlapOsStatusFilesWriterTests : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly ListLogger _logger = new();
    private readonly SqliteOutbox _outbox;
    private readonly TocsinMetrics _metrics = new();
    private readonly ResultWriter _writer;

    public SlapOsStatusFilesWriterTests()
    {
        _outbox = new SqliteOutbox(_folder.File("outbox.db"));
        _writer = new ResultWriter(_outbox, new ResultWriterOptions(), TimeProvider.System, _metrics, NullLogger<ResultWriter>.Instance);
    }

    private string Public => _folder.File("public");

    public void Dispose()
    {
        _outbox.Dispose();
        _metrics.Dispose();
        _folder.Dispose();
    }

    [Fact]
    public async Task A_reader_never_sees_a_partial_file_while_thousands_of_results_replace_it_and_the_last_one_wins()
    {
        Directory.CreateDirectory(Public);
        var files = new SlapOsStatusFiles(Public, _outbox, _writer, new TypedLogger<SlapOsStatusFiles>(_logger));
        await files.StartAsync(CancellationToken.None);
        _writer.Start();
        string[] checks = ["alpha", "beta", "gamma"];
        string[] paths = [.. checks.Select(c => Path.Combine(Public, c + ".status.json"))];
        using var stop = new CancellationTokenSource();
        long reads = 0;
        var problems = new ConcurrentQueue<string>();
        var reader = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (string path in paths)
                {
                    byte[] bytes;
                    try
                    {
                        bytes = File.ReadAllBytes(path);
                    }
                    catch (FileNotFoundException)
                    {
                        continue; // not written yet
                    }

                    try
                    {
                        var doc = JsonNode.Parse(bytes)!;
                        if ((string?)doc["title"] is null || (string?)doc["message"] is null)
                        {
                            problems.Enqueue("fields missing: " + doc.ToJsonString());
                        }
                    }
                    catch (JsonException ex)
                    {
                        problems.Enqueue($"{bytes.Length} bytes: {ex.Message}");
                    }

                    reads++;
                }
            }
        }, TestContext.Current.CancellationToken);

        // Long messages (about 900 characters) so a non-atomic write would be seen half done.
        var started = DateTimeOffset.UtcNow;
        const int Rounds = 1500;
        for (int i = 0; i < Rounds; i++)
        {
            foreach (string check in checks)
            {
                await _writer.WriteAsync(Result(check, started.AddMilliseconds(i), i % 3 == 0 ? CheckState.CRITICAL : CheckState.OK, $"run {i} " + new string('x', 900)), CancellationToken.None);
            }

            if (i % 100 == 0)
            {
                await Task.Delay(5, TestContext.Current.CancellationToken); // let batches be small, so many files are written
            }
        }

        await _writer.StopAsync();
        await files.StopAsync(CancellationToken.None);
        await stop.CancelAsync();
        await reader;

        Assert.Empty(problems);
        Assert.True(reads > 100, $"only {reads} reads");
        Assert.True(files.FilesWritten >= checks.Length, $"{files.FilesWritten} files written");
        foreach (string path in paths)
        {
            var last = JsonNode.Parse(File.ReadAllBytes(path))!;
            Assert.StartsWith($"run {Rounds - 1} ", (string?)last["message"], StringComparison.Ordinal);
            Assert.Equal("OK", (string?)last["status"]);
        }

        Assert.Empty(Directory.EnumerateFiles(Public, "*.tmp", new EnumerationOptions { AttributesToSkip = 0 }));
        Assert.Empty(_logger.Entries);
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("x..y")]
    [InlineData("back\\slash")]
    [InlineData("line\nbreak")]
    [InlineData("nul\0")]
    [InlineData(".hidden")]
    [InlineData("")]
    public void Unsafe_names_have_a_reason(string name) =>
        Assert.NotNull(SlapOsStatusFiles.UnsafeReason(name));

    [Theory]
    [InlineData("disk-free")]
    [InlineData("GET example dot org")]
    [InlineData("été ☃ 🔥")]
    [InlineData("a.b")]
    public void Safe_names_have_none(string name) =>
        Assert.Null(SlapOsStatusFiles.UnsafeReason(name));

    [Fact]
    public void A_name_with_an_unpaired_surrogate_is_unsafe() =>
        Assert.Contains("surrogate", SlapOsStatusFiles.UnsafeReason(string.Concat("lone", char.ConvertFromUtf32(0x1F525).AsSpan(0, 1))), StringComparison.Ordinal);

    [Fact]
    public void A_name_of_more_than_200_bytes_is_unsafe() =>
        Assert.Contains("bytes", SlapOsStatusFiles.UnsafeReason(new string('é', 101)), StringComparison.Ordinal);

    [Fact]
    public async Task Unsafe_names_are_logged_once_each_and_written_nowhere()
    {
        Directory.CreateDirectory(Public);
        var files = new SlapOsStatusFiles(Public, _outbox, _writer, new TypedLogger<SlapOsStatusFiles>(_logger));
        await files.StartAsync(CancellationToken.None);
        _writer.Start();
        for (int i = 0; i < 5; i++)
        {
            await _writer.WriteAsync(Result("../escape", DateTimeOffset.UtcNow, CheckState.OK, "x"), CancellationToken.None);
            await _writer.WriteAsync(Result("ok", DateTimeOffset.UtcNow, CheckState.OK, "x"), CancellationToken.None);
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        await _writer.StopAsync();
        await files.StopAsync(CancellationToken.None);

        Assert.Equal(["ok.status.json"], Directory.EnumerateFileSystemEntries(Public).Select(Path.GetFileName));
        Assert.False(File.Exists(_folder.File("escape.status.json")));
        var entry = Assert.Single(_logger.Entries);
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.Contains("../escape", entry.Message, StringComparison.Ordinal);
        Assert.Contains("'/'", entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_folder_is_logged_once_results_are_stored_and_every_file_comes_once_it_exists()
    {
        var files = new SlapOsStatusFiles(Public, _outbox, _writer, new TypedLogger<SlapOsStatusFiles>(_logger));
        await files.StartAsync(CancellationToken.None);
        _writer.Start();
        for (int i = 0; i < 5; i++)
        {
            await _writer.WriteAsync(Result("one", DateTimeOffset.UtcNow, CheckState.OK, "first"), CancellationToken.None);
            await _writer.WriteAsync(Result("two", DateTimeOffset.UtcNow, CheckState.WARNING, "second"), CancellationToken.None);
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        await Poll.UntilAsync(() => _writer.Written, n => n == 10, TimeSpan.FromSeconds(10), "10 results stored");
        Assert.Equal(10, _outbox.CountResults());
        Assert.Equal(0, files.FilesWritten);
        Assert.Contains("does not exist", files.FolderProblem, StringComparison.Ordinal);
        var warning = Assert.Single(_logger.Entries);
        Assert.Contains(Public, warning.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", warning.Message, StringComparison.Ordinal);

        Directory.CreateDirectory(Public);
        await _writer.WriteAsync(Result("two", DateTimeOffset.UtcNow, CheckState.OK, "third"), CancellationToken.None);
        await Poll.UntilAsync(() => files.FilesWritten, n => n >= 2, TimeSpan.FromSeconds(10), "both files once the folder exists");
        await _writer.StopAsync();
        await files.StopAsync(CancellationToken.None);

        Assert.Null(files.FolderProblem);
        Assert.Equal("first", (string?)JsonNode.Parse(File.ReadAllBytes(Path.Combine(Public, "one.status.json")))!["message"]);
        Assert.Equal("third", (string?)JsonNode.Parse(File.ReadAllBytes(Path.Combine(Public, "two.status.json")))!["message"]);
        Assert.Equal(2, _logger.Entries.Count);
        Assert.Contains("again", _logger.Entries[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_read_only_folder_is_logged_once_and_results_are_still_stored()
    {
        Directory.CreateDirectory(Public);
        using var readOnly = ReadOnlyFolder.Make(Public);
        if (readOnly is null)
        {
            Assert.Skip("cannot make a read-only folder here (root without chattr)");
        }

        var files = new SlapOsStatusFiles(Public, _outbox, _writer, new TypedLogger<SlapOsStatusFiles>(_logger));
        await files.StartAsync(CancellationToken.None);
        _writer.Start();
        for (int i = 0; i < 10; i++)
        {
            await _writer.WriteAsync(Result("check-" + (i % 3), DateTimeOffset.UtcNow, CheckState.OK, "x"), CancellationToken.None);
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        await _writer.StopAsync();
        await files.StopAsync(CancellationToken.None);

        Assert.Equal(10, _outbox.CountResults());
        Assert.Equal(0, files.FilesWritten);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Public));
        var warning = Assert.Single(_logger.Entries);
        Assert.Contains("not writable", warning.Message, StringComparison.Ordinal);
        Assert.Contains(Public, warning.Message, StringComparison.Ordinal);
    }

    private static CheckResult Result(string check, DateTimeOffset startedAt, CheckState state, string message) =>
        new(Guid.CreateVersion7(startedAt), check, "command", state, startedAt, startedAt, startedAt.AddMilliseconds(3), 3, null, message, null);

    /// <summary>Makes a folder read-only: <c>chmod 555</c> for a normal user, <c>chattr +i</c> for root; undone on dispose.</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private sealed class ReadOnlyFolder(string path, bool immutable) : IDisposable
    {
        public static ReadOnlyFolder? Make(string path)
        {
            if (!Environment.IsPrivilegedProcess)
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserExecute);
                return new ReadOnlyFolder(path, immutable: false);
            }

            return Run("chattr", "+i", path) ? new ReadOnlyFolder(path, immutable: true) : null;
        }

        public void Dispose()
        {
            if (immutable)
            {
                Run("chattr", "-i", path);
            }
            else
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        private static bool Run(string program, params string[] args)
        {
            try
            {
                using var p = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
                p.WaitForExit();
                return p.ExitCode == 0;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return false;
            }
        }
    }
}

/// <summary>Keeps every log entry (level and formatted message).</summary>
internal sealed class ListLogger : ILogger
{
    private readonly Lock _lock = new();
    private readonly List<(LogLevel Level, string Message)> _entries = [];

    public List<(LogLevel Level, string Message)> Entries
    {
        get
        {
            lock (_lock)
            {
                return [.. _entries];
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_lock)
        {
            _entries.Add((logLevel, formatter(state, exception)));
        }
    }
}

/// <summary>An <see cref="ILogger{T}"/> writing to a <see cref="ListLogger"/>.</summary>
internal sealed class TypedLogger<T>(ListLogger inner) : ILogger<T>
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

    public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        inner.Log(logLevel, eventId, state, exception, formatter);
}
