using System.CommandLine;
using System.Text.Json;
using Tocsin.Checks;
using Tocsin.Checks.RocketChatApps;
using Tocsin.Configuration;

namespace Tocsin.Cli.Commands;

/// <summary><c>tocsin import apps-monitor [PATH]</c>: turns seed 000's apps-monitor settings into a <c>rocketchat-apps</c> check.</summary>
internal static class ImportCommand
{
    public static Command Build()
    {
        var import = new Command("import", "Turn another tool's configuration into Tocsin checks.");
        var path = new Argument<string?>("PATH")
        {
            Description = $"The apps monitor's {AppsMonitorImport.FileName} (default: the one in the working directory). Its keys win over USER_ID, USER_PAT, SERVER_URL, INTERVAL_MS, ALERT_ROOM, APP_ID.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var print = new Option<bool>("--print") { Description = "Print the check as JSON instead of adding it to the configuration file." };
        var name = new Option<string?>("--name") { Description = $"The check's name (default {AppsMonitorImport.CheckName})." };
        var apps = new Command("apps-monitor", "Import the Rocket.Chat apps monitor (its JSON file and environment variables) as a rocketchat-apps check.") { path, print, name };
        apps.SetAction(parse =>
        {
            string file = Path.GetFullPath(parse.GetValue(path) ?? AppsMonitorImport.FileName);
            if (parse.GetValue(path) is not null && !File.Exists(file))
            {
                Console.Error.WriteLine($"tocsin: {file} does not exist.");
                return 66;
            }

            var warnings = new List<string>();
            var settings = AppsMonitorImport.Read(file, Environment.GetEnvironmentVariable, warnings);
            foreach (string w in warnings)
            {
                Console.Error.WriteLine($"tocsin: warning: {w}");
            }

            if (settings.Sources.Count == 0)
            {
                Console.Error.WriteLine($"tocsin: nothing to import: no {file} and none of USER_ID, USER_PAT, SERVER_URL, INTERVAL_MS, ALERT_ROOM, APP_ID set.");
                return 66;
            }

            var missing = AppsMonitorImport.Missing(settings);
            if (missing.Count > 0)
            {
                Console.Error.WriteLine($"tocsin: {string.Join(" and ", settings.Sources)} lack{(settings.Sources.Count == 1 ? "s" : "")} {string.Join(", ", missing)}: the check needs them.");
                return ConfigException.ExitCode;
            }

            var check = AppsMonitorImport.ToCheck(settings, inlinePat: false);
            if (parse.GetValue(name) is { } n)
            {
                check["name"] = n;
            }

            if (parse.GetValue(print))
            {
                Console.Out.WriteLine(check.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                return 0;
            }

            string configPath = TocsinCommand.ResolveConfigPath(parse);
            var config = File.Exists(configPath) ? ConfigFile.Open(configPath) : ConfigFile.Create(configPath, null, null);
            if (config.Format != ConfigFormat.Tocsin)
            {
                Console.Error.WriteLine($"tocsin: {configPath} is a seed 004 file, which holds http services only; convert it or pass --config-path to a Tocsin configuration.");
                return ConfigException.ExitCode;
            }

            string checkName = check["name"]!.GetValue<string>();
            if (config.Checks.Any(c => c?["name"]?.GetValue<string>() == checkName))
            {
                Console.Error.WriteLine($"tocsin: {configPath} already has a check named \"{checkName}\"; pass --name to choose another.");
                return 73;
            }

            config.Checks.Add(check);
            config.Save(new ConfigLoader(CheckKinds.CreateDefault(TimeProvider.System)));
            Console.Out.WriteLine($"Added check \"{checkName}\" ({RocketChatAppsCheckKind.KindName}) to {configPath} from {string.Join(" and ", settings.Sources)}.");
            if (!settings.PatFromEnvironment)
            {
                Console.Out.WriteLine("The PAT is written in the file, as the apps monitor had it; consider \"patFile\" or \"patEnv\" instead.");
            }

            return 0;
        });
        import.Subcommands.Add(apps);
        return import;
    }
}
