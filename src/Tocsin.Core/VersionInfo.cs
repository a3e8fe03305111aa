using System.Reflection;

namespace Tocsin;

/// <summary>The running Tocsin version.</summary>
public static class VersionInfo
{
    /// <summary>The informational version, e.g. <c>0.1.0</c> (without source-revision suffix).</summary>
    public static string Version { get; } =
        (typeof(VersionInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0").Split('+')[0];
}
