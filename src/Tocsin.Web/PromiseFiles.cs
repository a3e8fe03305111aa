using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.StaticFiles;
using Tocsin.Checks;

namespace Tocsin.Web;

/// <summary>
/// Serves the files a promise's <c>.cfg</c> lists (seed 003): <c>public-path-list</c> under <c>/public/&lt;check&gt;/</c>
/// (open, like the status files) and <c>private-path-list</c> under <c>/private/&lt;check&gt;/</c> (behind
/// <see cref="AuthSetup.WritePolicy"/>, like <c>/private/whoami</c>). Seed 003 symlinked each listed path into
/// <c>public/&lt;name&gt;/</c> (or <c>private/&lt;name&gt;/</c>) under its own base name, so the URL layout is the same:
/// <list type="bullet">
/// <item><c>/public/&lt;check&gt;/</c>: a small HTML listing of the base names of the check's listed paths that exist.</item>
/// <item><c>/public/&lt;check&gt;/&lt;base name of a listed file&gt;</c>: that file.</item>
/// <item><c>/public/&lt;check&gt;/&lt;base name of a listed directory&gt;/&lt;rest&gt;</c>: the file (or, for a directory,
/// a small HTML listing) at <c>&lt;rest&gt;</c> inside it.</item>
/// </list>
/// The check's name is percent-encoded as one segment, as in <c>/public/&lt;check&gt;.status.json</c> (which stays: a single
/// segment ending with <c>.status.json</c> is always a status file). When two listed paths share a base name, the first
/// listed wins.
/// <para>Confinement: the path is read from the request as sent (its raw target), split on <c>/</c> and each segment
/// percent-decoded once; a segment that is empty (except a final one: a listing), <c>.</c> or <c>..</c>, or that holds
/// <c>/</c>, <c>\</c> (so <c>%2F</c> and <c>%5C</c>) or a control character (NUL included) is refused with 400. The file is
/// then resolved with <c>realpath(3)</c> (every symbolic link followed) and served only when that real path is the listed
/// path's own real path or inside it: a symbolic link leaving the listed path, a missing file and anything that is neither
/// a regular file nor a directory (a FIFO, a device, a socket) give 404 — never the file. An unknown check is 404 (400 when
/// its name holds <c>/</c>, <c>\</c>, <c>..</c> or a control character), a name the check does not list is 404.</para>
/// <para>Files: content type by extension (<see cref="FileExtensionContentTypeProvider"/>, plus <c>.log</c> as text;
/// unknown ones <c>application/octet-stream</c>), <c>Range</c>, <c>ETag</c> and <c>Last-Modified</c> by the framework's
/// <see cref="TypedResults.PhysicalFile"/>. Every answer carries <c>X-Content-Type-Options: nosniff</c> and
/// <c>Content-Security-Policy: sandbox</c>, so an HTML or SVG file in a listed folder cannot run script with Tocsin's
/// origin. A file replaced between the check and the open (by someone who can write in the listed folder) is the one
/// residual race.</para>
/// </summary>
public static class PromiseFiles
{
    /// <summary>Content types by extension; <c>.log</c> files (promise logs) as text.</summary>
    private static readonly FileExtensionContentTypeProvider ContentTypes = CreateContentTypes();

    /// <summary>
    /// Answers a request for <c>/{area}/&lt;check&gt;/…</c>; <paramref name="rawRest"/> is the raw (still percent-encoded)
    /// path after <c>/{area}/</c>.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="catalog">The checks.</param>
    /// <param name="isPrivate">Whether <c>private-path-list</c> (else <c>public-path-list</c>) is served.</param>
    /// <param name="rawRest">The path after <c>/public/</c> or <c>/private/</c>, as sent.</param>
    public static IResult Serve(HttpContext context, CheckCatalog catalog, bool isPrivate, string rawRest)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(rawRest);
        string area = isPrivate ? "private" : "public";
        SetSafetyHeaders(context);
        if (!rawRest.Contains('/', StringComparison.Ordinal))
        {
            return TypedResults.NotFound(new ProblemBody("not found", $"expected /{area}/<check name, percent-encoded>/<base name of a listed path>/…"));
        }

        string[] raw = rawRest.Split('/');
        string name = Uri.UnescapeDataString(raw[0]);
        var segments = new List<string>(raw.Length);
        for (int i = 1; i < raw.Length; i++)
        {
            if (raw[i].Length == 0 && i == raw.Length - 1)
            {
                break; // a final slash: a listing
            }

            string segment = Uri.UnescapeDataString(raw[i]);
            if (!IsSafeSegment(segment))
            {
                return TypedResults.BadRequest(new ProblemBody("invalid path", "a path segment cannot be empty, '.' or '..', nor hold '/', '\\' or control characters (also percent-encoded)"));
            }

            segments.Add(segment);
        }

        var check = catalog.Checks.FirstOrDefault(c => c.Name == name);
        if (check is null)
        {
            return IsSuspiciousName(name)
                ? TypedResults.BadRequest(new ProblemBody("invalid check name", "a check name here cannot hold '/', '\\', '..' or control characters unless a check is named so"))
                : TypedResults.NotFound(ProblemBody.UnknownCheck(name));
        }

        var roots = (isPrivate ? check.Promise?.PrivatePaths : check.Promise?.PublicPaths) ?? [];
        string prefix = $"{context.Request.PathBase}/{area}/{Uri.EscapeDataString(name)}/";
        if (segments.Count == 0)
        {
            var entries = new List<(string Name, bool IsDirectory)>();
            foreach (string root in roots)
            {
                string baseName = BaseName(root);
                if (entries.Any(e => e.Name == baseName) || RealPath(root) is not { } real || FileType(real) is not { } type)
                {
                    continue;
                }

                entries.Add((baseName, type == PathType.Directory));
            }

            return Listing($"/{area}/{name}/", prefix, entries);
        }

        string? listed = roots.FirstOrDefault(r => BaseName(r) == segments[0]);
        if (listed is null || RealPath(listed) is not { } realRoot)
        {
            return NotFound(check.Name, area);
        }

        string candidate = segments.Count == 1 ? listed : Path.Join(listed, string.Join('/', segments.Skip(1)));
        if (RealPath(candidate) is not { } realPath || !IsInside(realPath, realRoot) || FileType(realPath) is not { } kind)
        {
            return NotFound(check.Name, area);
        }

        if (kind == PathType.Directory)
        {
            List<(string Name, bool IsDirectory)> entries;
            try
            {
                entries = [.. new DirectoryInfo(realPath).EnumerateFileSystemInfos()
                    .Select(i => (i.Name, i is DirectoryInfo))
                    .OrderBy(e => e.Name, StringComparer.Ordinal)];
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return NotFound(check.Name, area);
            }

            string here = prefix + string.Join('/', segments.Select(Uri.EscapeDataString)) + "/";
            return Listing($"/{area}/{name}/{string.Join('/', segments)}/", here, entries);
        }

        if (!ContentTypes.TryGetContentType(segments[^1], out string? contentType))
        {
            contentType = "application/octet-stream";
        }

        return TypedResults.PhysicalFile(realPath, contentType, enableRangeProcessing: true);
    }

    /// <summary>The request path after <paramref name="prefix"/> (e.g. <c>/public/</c>) as sent, still percent-encoded; "" when absent.</summary>
    public static string RawPathAfter(HttpContext context, string prefix)
    {
        ArgumentNullException.ThrowIfNull(context);
        string? raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        string path = raw is null ? context.Request.Path.Value ?? "" : raw.Split('?', 2)[0];
        int start = path.IndexOf(prefix, StringComparison.OrdinalIgnoreCase);
        return start < 0 ? "" : path[(start + prefix.Length)..];
    }

    /// <summary>Whether a real path (no links, no dot segments) is <paramref name="root"/> or inside it.</summary>
    internal static bool IsInside(string path, string root) =>
        path == root || path.StartsWith(root.EndsWith('/') ? root : root + "/", StringComparison.Ordinal);

    private static bool IsSafeSegment(string s) =>
        s.Length > 0 && s != "." && s != ".." && !s.Contains('/', StringComparison.Ordinal) && !s.Contains('\\', StringComparison.Ordinal)
        && !s.Any(char.IsControl);

    private static bool IsSuspiciousName(string name) =>
        name.Contains('/', StringComparison.Ordinal) || name.Contains('\\', StringComparison.Ordinal)
        || name.Contains("..", StringComparison.Ordinal) || name.Any(char.IsControl);

    private static string BaseName(string path) => Path.GetFileName(Path.TrimEndingDirectorySeparator(path));

    private static Microsoft.AspNetCore.Http.HttpResults.NotFound<ProblemBody> NotFound(string check, string area) =>
        TypedResults.NotFound(new ProblemBody("not found", $"no such file among the paths check \"{check}\" lists in {area}-path-list"));

    private static void SetSafetyHeaders(HttpContext context)
    {
        context.Response.Headers["X-Content-Type-Options"] = "nosniff";
        context.Response.Headers["Content-Security-Policy"] = "sandbox";
    }

    private static Microsoft.AspNetCore.Http.HttpResults.ContentHttpResult Listing(string title, string hrefPrefix, List<(string Name, bool IsDirectory)> entries)
    {
        var html = new StringBuilder();
        string t = WebUtility.HtmlEncode(title);
        html.Append("<!doctype html>\n<meta charset=\"utf-8\">\n<title>").Append(t).Append("</title>\n<h1>").Append(t).Append("</h1>\n<ul>\n");
        foreach (var (n, isDirectory) in entries)
        {
            string suffix = isDirectory ? "/" : "";
            html.Append("<li><a href=\"").Append(WebUtility.HtmlEncode(hrefPrefix + Uri.EscapeDataString(n) + suffix)).Append("\">")
                .Append(WebUtility.HtmlEncode(n + suffix)).Append("</a></li>\n");
        }

        html.Append("</ul>\n");
        return TypedResults.Content(html.ToString(), "text/html; charset=utf-8");
    }

    private static FileExtensionContentTypeProvider CreateContentTypes()
    {
        var provider = new FileExtensionContentTypeProvider();
        provider.Mappings[".log"] = "text/plain";
        return provider;
    }

    private enum PathType
    {
        File,
        Directory,
    }

    /// <summary>The canonical absolute path (<c>realpath(3)</c>: every link followed, no dot segments), or null when it does not resolve.</summary>
    private static string? RealPath(string path)
    {
        if (path.Contains('\0', StringComparison.Ordinal))
        {
            return null;
        }

        IntPtr resolved = NativeRealPath(path, IntPtr.Zero);
        if (resolved == IntPtr.Zero)
        {
            return null;
        }

        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            Free(resolved);
        }
    }

    /// <summary>A regular file or a directory (<c>statx(2)</c>, not following a final link: the path is already real); null for anything else.</summary>
    private static PathType? FileType(string realPath)
    {
        // struct statx has the same layout on every architecture; stx_mode is the u16 at offset 28.
        byte[] buffer = new byte[256];
        if (NativeStatx(AtFdCwd, realPath, AtSymlinkNoFollow, StatxType, buffer) != 0)
        {
            return null;
        }

        int mode = BitConverter.ToUInt16(buffer, 28) & SIfMt;
        return mode switch
        {
            SIfReg => PathType.File,
            SIfDir => PathType.Directory,
            _ => null,
        };
    }

    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const int SIfMt = 0xF000;
    private const int SIfReg = 0x8000;
    private const int SIfDir = 0x4000;

    [DllImport("libc", EntryPoint = "realpath", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern IntPtr NativeRealPath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);

    [DllImport("libc", EntryPoint = "free")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern void Free(IntPtr pointer);

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int NativeStatx(int dirFd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, [In, Out] byte[] buffer);
}
