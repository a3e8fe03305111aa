using System.CommandLine;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Tocsin.Cli.Commands;
using Tocsin.Configuration;

namespace Tocsin.Cli;

/// <summary>The <c>tocsin</c> command line.</summary>
internal static class TocsinCommand
{
    /// <summary>Width tables are laid out for when stdout is not a terminal, in columns.</summary>
    internal const int PipedOutputWidth = 4096;

    /// <summary><c>--config-path</c>, valid on every command.</summary>
    public static readonly Option<string?> ConfigPath = new("--config-path", "-c")
    {
        Description = "Configuration file (default: $TOCSIN_CONFIG, else ~/.tocsin/config.json). Tocsin's format or seed 004's monitoring-config.",
        Recursive = true,
    };

    /// <summary>Parses and runs <paramref name="args"/>; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var (rest, verbosity) = ExtractVerbosity(args);
        if (Console.IsOutputRedirected)
        {
            // Spectre.Console cannot ask a pipe or a file for its width and assumes 80 columns, wrapping
            // check names and URLs across table lines; piped output (grep, scripts) keeps each row whole.
            AnsiConsole.Profile.Width = PipedOutputWidth;
        }

        var root = new RootCommand("Tocsin: self-hosted monitoring. Checks run on a schedule; every result is kept in a local SQLite outbox.");
        root.Options.Add(ConfigPath);
        root.Subcommands.Add(ConfigCommands.Build());
        root.Subcommands.Add(StartCommand.Build(verbosity));
        root.Subcommands.Add(StatusCommand.Build());
        root.Subcommands.Add(ExportCommands.Build());
        root.Subcommands.Add(AgentsCommand.Build());
        root.Subcommands.Add(AuthCommands.Build());
        root.Subcommands.Add(NotifyCommands.Build());
        root.Subcommands.Add(AlertingCommands.BuildAck());
        root.Subcommands.Add(AlertingCommands.BuildSilence());
        root.Subcommands.Add(AlertingCommands.BuildNotifications());
        root.Subcommands.Add(ImportCommand.Build());
        root.Subcommands.Add(TokensCommand.Build());
        try
        {
            // No termination handling by System.CommandLine: its handler would hold SIGINT/SIGTERM for up
            // to 2 s, then end the process with 130/143 while `start`'s host (which handles both signals
            // itself and stops gracefully) is still stopping, losing runs in flight and queued results.
            // Its default exception handler is off too: it caught every ConfigException first and exited 1
            // with a stack trace, instead of listing the problems and exiting 78 below.
            var invocation = new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false };
            return await root.Parse(rest).InvokeAsync(invocation).ConfigureAwait(false);
        }
        catch (ConfigException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return ConfigException.ExitCode;
        }
        catch (Exception ex)
        {
            // What the default handler did for anything else: report it (unless cancelled) and exit 1.
            if (ex is not OperationCanceledException)
            {
                await Console.Error.WriteLineAsync($"Unhandled exception: {ex}").ConfigureAwait(false);
            }

            return 1;
        }
    }

    /// <summary>The resolved configuration path for a parse.</summary>
    public static string ResolveConfigPath(ParseResult parse) => ConfigLoader.ResolvePath(parse.GetValue(ConfigPath));

    /// <summary>
    /// Counts <c>-v</c>, <c>-vv</c>, <c>-vvv</c> (each v one step more verbose than Information)
    /// and removes them from the arguments.
    /// </summary>
    internal static (string[] Remaining, LogLevel Level) ExtractVerbosity(string[] args)
    {
        int vs = 0;
        var rest = new List<string>();
        foreach (string a in args)
        {
            if (a.Length >= 2 && a[0] == '-' && a[1..].All(ch => ch == 'v'))
            {
                vs += a.Length - 1;
            }
            else if (a == "--verbose")
            {
                vs++;
            }
            else
            {
                rest.Add(a);
            }
        }

        var level = vs switch
        {
            0 => LogLevel.Information,
            1 => LogLevel.Debug,
            _ => LogLevel.Trace,
        };
        return ([.. rest], level);
    }
}
