using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tocsin.Configuration;

/// <summary>
/// Reads the fields of one JSON object of a configuration file, recording every problem in a shared
/// list instead of stopping at the first. Each read marks the field as known;
/// <see cref="RejectUnknownFields"/> then reports the fields nobody read.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "Methods are named after the JSON type they read.")]
public sealed class ConfigObjectReader
{
    private readonly JsonElement _element;
    private readonly HashSet<string> _known = new(StringComparer.Ordinal);
    private readonly string _prefix;

    /// <summary>Creates a reader for <paramref name="element"/> (which must be a JSON object).</summary>
    /// <param name="element">The object to read.</param>
    /// <param name="file">The configuration file, for messages.</param>
    /// <param name="location">Where the object is, e.g. <c>checks[0] "site"</c>.</param>
    /// <param name="errors">The shared list problems are added to.</param>
    /// <param name="fieldPrefix">Prefix for nested field names, e.g. <c>expect.</c>.</param>
    public ConfigObjectReader(JsonElement element, string file, string location, List<ConfigError> errors, string fieldPrefix = "")
    {
        _element = element;
        File = file;
        Location = location;
        Errors = errors;
        _prefix = fieldPrefix;
    }

    /// <summary>The configuration file's path.</summary>
    public string File { get; }

    /// <summary>Where this object is in the file.</summary>
    public string Location { get; }

    /// <summary>The shared list of problems.</summary>
    public List<ConfigError> Errors { get; }

    /// <summary>The configuration's <c>timeZone</c>, for fields that follow a wall clock (cron schedules). <value>Default: UTC.</value></summary>
    public TimeZoneInfo TimeZone { get; init; } = TimeZoneInfo.Utc;

    /// <summary>Whether the field is present (and not JSON <c>null</c>); marks it known.</summary>
    public bool Has(string field)
    {
        _known.Add(field);
        return _element.TryGetProperty(field, out var v) && v.ValueKind != JsonValueKind.Null;
    }

    /// <summary>Records a problem with <paramref name="field"/> of this object.</summary>
    public void Error(string field, string? value, string problem) =>
        Errors.Add(new ConfigError(File, Location, _prefix + field, value, problem));

    /// <summary>Returns the raw value of a present field, or <see langword="null"/>.</summary>
    public JsonElement? Raw(string field)
    {
        _known.Add(field);
        return _element.TryGetProperty(field, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;
    }

    /// <summary>Reads a string field; records an error when it has another type or is required and missing.</summary>
    public string? String(string field, bool required = false)
    {
        var v = Raw(field);
        if (v is null)
        {
            if (required)
            {
                Error(field, null, "is required");
            }

            return null;
        }

        if (v.Value.ValueKind != JsonValueKind.String)
        {
            Error(field, v.Value.GetRawText(), "must be a string");
            return null;
        }

        return v.Value.GetString();
    }

    /// <summary>Reads a boolean field.</summary>
    public bool? Bool(string field)
    {
        var v = Raw(field);
        if (v is null)
        {
            return null;
        }

        if (v.Value.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return v.Value.GetBoolean();
        }

        Error(field, v.Value.GetRawText(), "must be true or false");
        return null;
    }

    /// <summary>Reads an integer field and checks it lies in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public long? Integer(string field, long min, long max, bool required = false)
    {
        var v = Raw(field);
        if (v is null)
        {
            if (required)
            {
                Error(field, null, $"is required (an integer from {min} to {max})");
            }

            return null;
        }

        if (v.Value.ValueKind != JsonValueKind.Number || !v.Value.TryGetInt64(out long n))
        {
            Error(field, v.Value.GetRawText(), $"must be an integer from {min} to {max}");
            return null;
        }

        if (n < min || n > max)
        {
            Error(field, n.ToString(CultureInfo.InvariantCulture), $"must be from {min} to {max}");
            return null;
        }

        return n;
    }

    /// <summary>Reads a number field (seconds in seed 004's format, for example).</summary>
    public double? Number(string field, double min, double max)
    {
        var v = Raw(field);
        if (v is null)
        {
            return null;
        }

        if (v.Value.ValueKind != JsonValueKind.Number)
        {
            Error(field, v.Value.GetRawText(), $"must be a number from {min} to {max}");
            return null;
        }

        double n = v.Value.GetDouble();
        if (n < min || n > max)
        {
            Error(field, v.Value.GetRawText(), $"must be from {min} to {max}");
            return null;
        }

        return n;
    }

    /// <summary>Reads a duration field written with a unit (see <see cref="Duration"/>) and checks its range.</summary>
    public TimeSpan? Duration(string field, TimeSpan min, TimeSpan max)
    {
        string? text = String(field);
        if (text is null)
        {
            return null;
        }

        if (!Configuration.Duration.TryParse(text, out var d))
        {
            Error(field, Quote(text), $"is not a duration; use {Configuration.Duration.Allowed}");
            return null;
        }

        if (d < min || d > max)
        {
            Error(field, Quote(text), $"must be from {Configuration.Duration.Format(min)} to {Configuration.Duration.Format(max)}");
            return null;
        }

        return d;
    }

    /// <summary>Reads a size field written with a unit (see <see cref="ByteSize"/>) and checks its range; returns bytes.</summary>
    public long? ByteSize(string field, long min, long max)
    {
        string? text = String(field);
        if (text is null)
        {
            return null;
        }

        if (!Configuration.ByteSize.TryParse(text, out long bytes))
        {
            Error(field, Quote(text), $"is not a size; use {Configuration.ByteSize.Allowed}");
            return null;
        }

        if (bytes < min || bytes > max)
        {
            Error(field, Quote(text), $"must be from {Configuration.ByteSize.Format(min)} to {Configuration.ByteSize.Format(max)}");
            return null;
        }

        return bytes;
    }

    /// <summary>Reads a regular expression field and compiles it (1 s match timeout).</summary>
    public Regex? Regex(string field)
    {
        string? text = String(field);
        if (text is null)
        {
            return null;
        }

        try
        {
            return new Regex(text, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException ex)
        {
            Error(field, Quote(text), $"is not a valid .NET regular expression: {ex.Message}");
            return null;
        }
    }

    /// <summary>Reads an array of strings.</summary>
    public IReadOnlyList<string>? StringList(string field)
    {
        var v = Raw(field);
        if (v is null)
        {
            return null;
        }

        if (v.Value.ValueKind != JsonValueKind.Array || v.Value.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
        {
            Error(field, Truncate(v.Value.GetRawText()), "must be an array of strings");
            return null;
        }

        return [.. v.Value.EnumerateArray().Select(e => e.GetString()!)];
    }

    /// <summary>Reads an object whose values are all strings (e.g. HTTP headers).</summary>
    public IReadOnlyDictionary<string, string>? StringMap(string field)
    {
        var v = Raw(field);
        if (v is null)
        {
            return null;
        }

        if (v.Value.ValueKind != JsonValueKind.Object || v.Value.EnumerateObject().Any(p => p.Value.ValueKind != JsonValueKind.String))
        {
            Error(field, Truncate(v.Value.GetRawText()), "must be an object whose values are strings");
            return null;
        }

        return v.Value.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Returns a reader for a nested object field, or <see langword="null"/> when absent or not an object.</summary>
    public ConfigObjectReader? Object(string field)
    {
        var v = Raw(field);
        if (v is null)
        {
            return null;
        }

        if (v.Value.ValueKind != JsonValueKind.Object)
        {
            Error(field, Truncate(v.Value.GetRawText()), "must be an object");
            return null;
        }

        return new ConfigObjectReader(v.Value, File, Location, Errors, _prefix + field + ".") { TimeZone = TimeZone };
    }

    /// <summary>Reports every field of the object that no read asked for (a password inside a URI value is shown as <c>***</c>).</summary>
    public void RejectUnknownFields()
    {
        foreach (var p in _element.EnumerateObject())
        {
            if (!_known.Contains(p.Name))
            {
                // A misspelt field may hold a URI with a password (e.g. a connection string): never echo that password.
                Error(p.Name, Truncate(Secrets.RedactConnectionString(p.Value.GetRawText())), $"unknown field; allowed: {string.Join(", ", _known.Order(StringComparer.Ordinal))}");
            }
        }
    }

    /// <summary>Quotes a string for an error message.</summary>
    public static string Quote(string s) => JsonSerializer.Serialize(Truncate(s));

    private static string Truncate(string s) => s.Length <= 120 ? s : s[..117] + "...";
}
