namespace Tocsin.Configuration;

/// <summary>
/// One problem found in a configuration file.
/// </summary>
/// <param name="File">The configuration file's path.</param>
/// <param name="Location">Where in the file, e.g. <c>checks[2] "site"</c>, or <c>(top level)</c>.</param>
/// <param name="Field">The offending field's name (dotted for nested fields, e.g. <c>expect.status</c>).</param>
/// <param name="Value">The offending value as written, or <see langword="null"/> when missing.</param>
/// <param name="Problem">What is wrong and what is allowed.</param>
public sealed record ConfigError(string File, string Location, string Field, string? Value, string Problem)
{
    /// <inheritdoc />
    public override string ToString() =>
        Value is null
            ? $"{File}: {Location}: field \"{Field}\": {Problem}"
            : $"{File}: {Location}: field \"{Field}\" = {Value}: {Problem}";
}

/// <summary>
/// Thrown when a configuration file cannot be used; carries every problem found, not only the first.
/// The process exits with <see cref="ExitCode"/> (78, <c>EX_CONFIG</c>) when it reaches the command line.
/// </summary>
public sealed class ConfigException : Exception
{
    /// <summary>The exit code for configuration errors (sysexits.h <c>EX_CONFIG</c>).</summary>
    public const int ExitCode = 78;

    /// <summary>Creates the exception from the problems found (at least one).</summary>
    public ConfigException(IReadOnlyList<ConfigError> errors)
        : base(Describe(errors)) => Errors = errors;

    /// <summary>Creates the exception for a file-level problem (unreadable, not JSON…).</summary>
    public ConfigException(string file, string problem)
        : this([new ConfigError(file, "(file)", "-", null, problem)])
    {
    }

    /// <summary>Every problem found, in file order.</summary>
    public IReadOnlyList<ConfigError> Errors { get; }

    private static string Describe(IReadOnlyList<ConfigError> errors) =>
        $"{errors.Count} configuration error(s):{Environment.NewLine}" +
        string.Join(Environment.NewLine, errors.Select(e => "  " + e));
}
