namespace Tocsin.Configuration;

/// <summary>
/// Reads the <c>slapos</c> section: <c>{"publicFolder": "…/srv/monitor/public"}</c>, the folder where a SlapOS
/// instance's tooling reads <c>&lt;name&gt;.status.json</c> files (seed 003).
/// </summary>
public static class SlapOsConfigReader
{
    /// <summary>
    /// The absolute path of <c>slapos.publicFolder</c> (relative paths are relative to the folder of the configuration
    /// file, a leading <c>~</c> is the home folder), or <see langword="null"/> without a <c>slapos</c> section. Errors
    /// go to <paramref name="root"/>'s list: not a string, empty, a NUL character, an existing file. A folder that does
    /// not exist (yet) is allowed: the agent logs it and writes the files once it appears.
    /// </summary>
    public static string? ReadPublicFolder(ConfigObjectReader root, string baseDir)
    {
        ArgumentNullException.ThrowIfNull(root);
        var slapos = root.Object("slapos");
        if (slapos is null)
        {
            return null;
        }

        string? folder = slapos.String("publicFolder", required: true);
        slapos.RejectUnknownFields();
        if (folder is null)
        {
            return null;
        }

        const string expected = "must be the path of the folder SlapOS reads status files from, e.g. ~/srv/monitor/public (relative paths are relative to the configuration file)";
        if (folder.Trim().Length == 0 || folder.Contains('\0', StringComparison.Ordinal))
        {
            slapos.Error("publicFolder", ConfigObjectReader.Quote(folder), expected);
            return null;
        }

        string expanded = ConfigLoader.ExpandHome(folder);
        string full = Path.GetFullPath(Path.IsPathRooted(expanded) ? expanded : Path.Combine(baseDir, expanded));
        if (File.Exists(full))
        {
            slapos.Error("publicFolder", ConfigObjectReader.Quote(folder), "is a file; it " + expected);
            return null;
        }

        return full;
    }
}
