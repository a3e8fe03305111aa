using System.IO.Enumeration;

namespace Tocsin.Checks.BackupFreshness;

/// <summary>One dump of a backup set: an entry of the backup folder whose name matches the pattern.</summary>
/// <param name="Name">The entry's name (not its path).</param>
/// <param name="Time">The time read from the name (UTC).</param>
/// <param name="IsDirectory">Whether it is a folder (seed 001's <c>mongodump</c> output) rather than a file (an archive).</param>
public sealed record Dump(string Name, DateTimeOffset Time, bool IsDirectory);

/// <summary>Why a backup folder could not be read.</summary>
public enum FolderProblem
{
    /// <summary>It was read.</summary>
    None,

    /// <summary>Nothing at the path (ENOENT): the volume is not mounted, or the backups are gone.</summary>
    Missing,

    /// <summary>The path is a file, not a folder (ENOTDIR).</summary>
    NotAFolder,

    /// <summary>The agent may not read it (EACCES, EPERM).</summary>
    PermissionDenied,

    /// <summary>Another I/O error (EIO, ESTALE on a broken NFS mount, …).</summary>
    IoError,
}

/// <summary>What was found in a backup folder.</summary>
/// <param name="Dumps">The matching entries, newest first (ties by name, descending).</param>
/// <param name="Ignored">How many entries did not match the pattern.</param>
/// <param name="IgnoredNames">The first few of those (at most <see cref="BackupFolder.MaxIgnoredNames"/>), in folder order.</param>
/// <param name="Truncated">Whether reading stopped at <see cref="BackupFolder.MaxEntries"/> entries.</param>
/// <param name="Problem">Why the folder could not be read, or <see cref="FolderProblem.None"/>.</param>
/// <param name="ProblemText">The system's words for the problem (e.g. <c>Input/output error</c>), or null.</param>
public sealed record BackupListing(
    IReadOnlyList<Dump> Dumps, int Ignored, IReadOnlyList<string> IgnoredNames, bool Truncated, FolderProblem Problem = FolderProblem.None, string? ProblemText = null);

/// <summary>The size of one dump.</summary>
/// <param name="Bytes">Bytes counted: the file's length, or the sum of the lengths of the files under a folder.</param>
/// <param name="Exact">False when counting stopped early (past the size asked for, at <see cref="BackupFolder.MaxSizeEntries"/>
/// entries, or at an unreadable subfolder): <paramref name="Bytes"/> is then a lower bound.</param>
/// <param name="Problem">Why counting stopped at an unreadable entry, or null.</param>
public readonly record struct DumpSize(long Bytes, bool Exact, string? Problem = null);

/// <summary>
/// Reads a backup folder with bounded work: names only (no <c>stat</c> per entry beyond the file type the folder listing
/// gives), at most <see cref="MaxEntries"/> entries; sizes only when asked, for one dump at a time, at most
/// <see cref="MaxSizeEntries"/> entries each. Symbolic links inside a dump are not followed (and count 0 bytes).
/// </summary>
public static class BackupFolder
{
    /// <summary>Most entries of a backup folder read per run; past it reading stops and the listing is marked truncated.</summary>
    public const int MaxEntries = 100_000;

    /// <summary>Most entries (files and folders) looked at to size one dump folder.</summary>
    public const int MaxSizeEntries = 20_000;

    /// <summary>Most names of ignored entries kept for the details.</summary>
    public const int MaxIgnoredNames = 10;

    private static readonly EnumerationOptions OneLevel = new()
    {
        RecurseSubdirectories = false,
        IgnoreInaccessible = false,
        AttributesToSkip = 0,
        ReturnSpecialDirectories = false,
    };

    /// <summary>Lists the dumps of <paramref name="folder"/> whose names match <paramref name="pattern"/>.</summary>
    /// <param name="folder">The backup folder (absolute).</param>
    /// <param name="pattern">How dumps are named.</param>
    /// <param name="zone">The time zone of names without an offset.</param>
    /// <param name="cancellationToken">Checked every 1024 entries.</param>
    /// <returns>The listing; a folder that cannot be read gives an empty listing with its <see cref="BackupListing.Problem"/>, never an exception.</returns>
    /// <exception cref="OperationCanceledException">When <paramref name="cancellationToken"/> is cancelled.</exception>
    public static BackupListing List(string folder, DumpNamePattern pattern, TimeZoneInfo zone, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var dumps = new List<Dump>();
        var ignoredNames = new List<string>();
        int ignored = 0, seen = 0;
        bool truncated = false;
        try
        {
            var entries = new FileSystemEnumerable<(string Name, bool IsDirectory)>(
                folder, (ref FileSystemEntry e) => (e.FileName.ToString(), e.IsDirectory), OneLevel);
            foreach (var (name, isDirectory) in entries)
            {
                if (++seen > MaxEntries)
                {
                    truncated = true;
                    break;
                }

                if ((seen & 1023) == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }

                if (pattern.TryMatch(name, zone, out var time))
                {
                    dumps.Add(new Dump(name, time, isDirectory));
                }
                else
                {
                    ignored++;
                    if (ignoredNames.Count < MaxIgnoredNames)
                    {
                        ignoredNames.Add(name);
                    }
                }
            }
        }
        catch (Exception ex) when (Classify(ex, folder) is { } problem)
        {
            return new BackupListing([], 0, [], false, problem.Kind, problem.Text);
        }

        dumps.Sort(static (a, b) => b.Time != a.Time ? b.Time.CompareTo(a.Time) : string.CompareOrdinal(b.Name, a.Name));
        return new BackupListing(dumps, ignored, ignoredNames, truncated);
    }

    /// <summary>
    /// The size of <paramref name="dump"/> in <paramref name="folder"/>: a file's length, or the sum of the lengths of the
    /// files under a folder (depth first, without following symbolic links).
    /// </summary>
    /// <param name="folder">The backup folder.</param>
    /// <param name="dump">The dump.</param>
    /// <param name="stopAt">Stop counting once the sum reaches this many bytes (the size asked for), or null to count all.</param>
    /// <param name="cancellationToken">Checked every 256 entries.</param>
    /// <exception cref="OperationCanceledException">When <paramref name="cancellationToken"/> is cancelled.</exception>
    public static DumpSize Measure(string folder, Dump dump, long? stopAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dump);
        string root = Path.Combine(folder, dump.Name);
        if (!dump.IsDirectory)
        {
            try
            {
                return new DumpSize(new FileInfo(root).Length, true);
            }
            catch (Exception ex) when (Classify(ex, root) is { } problem)
            {
                return new DumpSize(0, false, problem.Text);
            }
        }

        long bytes = 0;
        int seen = 0;
        var pending = new Stack<string>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            string dir = pending.Pop();
            try
            {
                var entries = new FileSystemEnumerable<(string Path, bool IsDirectory, bool IsLink, long Length)>(
                    dir,
                    (ref FileSystemEntry e) => (e.ToFullPath(), e.IsDirectory, (e.Attributes & FileAttributes.ReparsePoint) != 0, e.IsDirectory ? 0 : e.Length),
                    OneLevel);
                foreach (var entry in entries)
                {
                    if (++seen > MaxSizeEntries)
                    {
                        return new DumpSize(bytes, false);
                    }

                    if ((seen & 255) == 0)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                    }

                    if (entry.IsLink)
                    {
                        continue;
                    }

                    if (entry.IsDirectory)
                    {
                        pending.Push(entry.Path);
                        continue;
                    }

                    bytes += entry.Length;
                    if (bytes >= stopAt)
                    {
                        return new DumpSize(bytes, false);
                    }
                }
            }
            catch (Exception ex) when (Classify(ex, dir) is { } problem)
            {
                return new DumpSize(bytes, false, problem.Text);
            }
        }

        return new DumpSize(bytes, true);
    }

    /// <summary>Names a file system error with its errno, or null for any other exception (which then propagates).</summary>
    private static (FolderProblem Kind, string Text)? Classify(Exception ex, string path) => ex switch
    {
        UnauthorizedAccessException => (FolderProblem.PermissionDenied, $"permission denied (EACCES) reading {path}"),
        DirectoryNotFoundException or FileNotFoundException when File.Exists(path) => (FolderProblem.NotAFolder, $"{path} is a file, not a folder (ENOTDIR)"),
        DirectoryNotFoundException or FileNotFoundException => (FolderProblem.Missing, $"{path} does not exist (ENOENT)"),
        IOException io => (FolderProblem.IoError, $"cannot read {path}: {io.Message}"),
        _ => null,
    };
}