using Microsoft.Data.Sqlite;
using Tocsin.Bench;

if (args.Length > 0 && args[0] == "ingest")
{
    return await IngestBench.RunAsync(args[1..]);
}

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"tocsin-bench: {ex.Message}");
    Console.Error.WriteLine(BenchOptions.Usage);
    return 64;
}

if (options.Drain)
{
    return await DrainBench.RunAsync(options);
}

if (options.Alerting)
{
    return await AlertBench.RunAsync(options);
}

if (options.WebProfile)
{
    return await WebBench.ProfileAsync(options);
}

if (options.WebConfig is not null)
{
    return WebBench.WriteConfig(options);
}

if (options.DatabaseFile is { } existing && File.Exists(existing))
{
    Console.Error.WriteLine($"tocsin-bench: --db {existing} already exists; give a new file so the stored count is this run's");
    return 64;
}

if (options.Fill)
{
    return DrainBench.Fill(options);
}

if (options.SeedWeb)
{
    return WebBench.Seed(options);
}

if (options.CommandDir is null && await Preflight.CheckTargetAsync(options.Target) is { } problem)
{
    Console.Error.WriteLine($"tocsin-bench: target {options.Target} is not usable: {problem}");
    return 1;
}

if (options.Parts)
{
    await Parts.RunAsync(options);
    return 0;
}

string? tempDir = null;
string dbPath = options.DatabaseFile ?? Path.Combine(tempDir = Directory.CreateTempSubdirectory("tocsin-bench-").FullName, "outbox.db");
try
{
    var figures = await BenchRun.RunAsync(options, dbPath);
    Report.Print(options, figures);
    if (options.SummaryFile is not null)
    {
        Report.WriteSummary(options, figures, options.SummaryFile);
    }

    return figures.ResultsStored == figures.RunsMade ? 0 : 2;
}
finally
{
    SqliteConnection.ClearAllPools();
    if (tempDir is not null)
    {
        Directory.Delete(tempDir, recursive: true);
    }
}
