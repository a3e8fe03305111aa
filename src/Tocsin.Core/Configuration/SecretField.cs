namespace Tocsin.Configuration;

/// <summary>
/// Reads a secret (token, password, PAT) given in one of three ways, at most one of them:
/// <c>"&lt;field&gt;": "value"</c> in the file, <c>"&lt;field&gt;Env": "VARIABLE"</c> (an environment variable's name),
/// or <c>"&lt;field&gt;File": "/path"</c> (a file whose first line is the secret; relative to the config file's folder).
/// Error messages name the field and never show the secret's value.
/// </summary>
public static class SecretField
{
    /// <summary>
    /// The secret of <paramref name="field"/>, or null when none of the three forms is given (an error is recorded when
    /// <paramref name="required"/>, when more than one is given, when the variable is unset or empty, or when the file is
    /// missing or its first line empty).
    /// </summary>
    public static string? Read(ConfigObjectReader reader, string field, bool required = false)
    {
        ArgumentNullException.ThrowIfNull(reader);
        bool inline = reader.Has(field), env = reader.Has(field + "Env"), file = reader.Has(field + "File");
        string? value = reader.String(field);
        string? envName = reader.String(field + "Env");
        string? path = reader.String(field + "File");
        int given = (inline ? 1 : 0) + (env ? 1 : 0) + (file ? 1 : 0);
        if (given > 1)
        {
            reader.Error(field, null, $"give only one of \"{field}\", \"{field}Env\" and \"{field}File\"");
            return null;
        }

        if (value is not null)
        {
            if (value.Length == 0)
            {
                reader.Error(field, null, "is empty");
                return null;
            }

            return value;
        }

        if (envName is not null)
        {
            string? fromEnv = Environment.GetEnvironmentVariable(envName);
            if (string.IsNullOrEmpty(fromEnv))
            {
                reader.Error(field + "Env", ConfigObjectReader.Quote(envName), "environment variable is not set or empty");
                return null;
            }

            return fromEnv.Trim();
        }

        if (path is not null)
        {
            string full = System.IO.Path.IsPathRooted(path)
                ? path
                : System.IO.Path.GetFullPath(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(reader.File) ?? ".", ConfigLoader.ExpandHome(path)));
            string? line = null;
            try
            {
                using var f = File.OpenText(ConfigLoader.ExpandHome(full));
                line = f.ReadLine()?.Trim();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                reader.Error(field + "File", ConfigObjectReader.Quote(path), $"cannot be read ({ex.GetType().Name}); it must hold the secret on its first line");
                return null;
            }

            if (string.IsNullOrEmpty(line))
            {
                reader.Error(field + "File", ConfigObjectReader.Quote(path), "first line is empty; it must hold the secret");
                return null;
            }

            return line;
        }

        if (required)
        {
            reader.Error(field, null, $"is required (or \"{field}Env\" naming an environment variable, or \"{field}File\" naming a file)");
        }

        return null;
    }
}
