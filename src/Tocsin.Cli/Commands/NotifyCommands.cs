using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Spectre.Console;
using Tocsin.Alerting;
using Tocsin.Checks;
using Tocsin.Configuration;

namespace Tocsin.Cli.Commands;

/// <summary>
/// <c>tocsin notify list</c>: the configured notification channels (name, type, where they send, without secrets);
/// <c>tocsin notify test NAME</c>: sends one <c>test</c> notification to a channel and says how it went
/// (exit 0 sent, 1 failed, 64 no such channel, 78 configuration errors).
/// </summary>
internal static class NotifyCommands
{
    /// <summary>Longest <c>notify test</c> waits for a delivery.</summary>
    internal static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(30);

    public static Command Build()
    {
        var notify = new Command("notify", "List the notification channels and send test notifications.");
        notify.Subcommands.Add(BuildList());
        notify.Subcommands.Add(BuildTest());
        return notify;
    }

    private static Command BuildList()
    {
        var cmd = new Command("list", "List the notification channels of the configuration (config \"notifications\"): name, type, where they send (secrets hidden).");
        cmd.SetAction(parse =>
        {
            var (config, types) = Load(parse);
            if (config.Notifications.Count == 0)
            {
                Console.Out.WriteLine($"No notification channel is configured (\"notifications\" in {config.SourcePath}); types: {string.Join(", ", types.Names)}.");
                return 0;
            }

            var table = new Table().AddColumns("Name", "Type", "Sends to");
            foreach (var c in config.Notifications)
            {
                table.AddRow(Markup.Escape(c.Name), c.Type, Markup.Escape(types.Get(c.Type).Describe(c.Options)));
            }

            AnsiConsole.Write(table);
            return 0;
        });
        return cmd;
    }

    private static Command BuildTest()
    {
        var name = new Argument<string>("NAME") { Description = "The channel's name, as `notify list` prints it." };
        var cmd = new Command("test", "Send a test notification to channel NAME; prints how long it took, or why it failed (exit 1).") { name };
        cmd.SetAction(async (parse, ct) =>
        {
            var (config, types) = Load(parse);
            string wanted = parse.GetValue(name)!;
            var definition = config.Notifications.FirstOrDefault(c => c.Name == wanted);
            if (definition is null)
            {
                string configured = config.Notifications.Count == 0
                    ? "none is configured (\"notifications\")"
                    : "configured: " + string.Join(", ", config.Notifications.Select(c => c.Name));
                await Console.Error.WriteLineAsync($"tocsin: notify test: no channel is named \"{wanted}\"; {configured}.").ConfigureAwait(false);
                return 64;
            }

            var type = types.Get(definition.Type);
            string describe = type.Describe(definition.Options);
            // As the agent sends: redirects not followed (a PAT or header must not follow a redirect elsewhere; 3xx = permanent).
            using var http = NotificationChannelTypes.CreateHttpClient();
            var channel = type.Create(definition.Name, definition.Options, new NotificationChannelContext(http, TimeProvider.System, NullLoggerFactory.Instance));
            var now = TimeProvider.System.GetUtcNow();
            var id = Guid.CreateVersion7(now);
            var notification = new Notification(
                id, $"{id:D}:test:{definition.Name}", NotificationType.Test, definition.Name, "", "", CheckState.OK, CheckState.OK, now, null,
                $"Test notification from Tocsin on {Environment.MachineName}", null, 0, null);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TestTimeout);
            long started = Stopwatch.GetTimestamp();
            try
            {
                await channel.SendAsync(notification, timeout.Token).ConfigureAwait(false);
            }
            catch (NotificationDeliveryException ex)
            {
                await Console.Error.WriteLineAsync(
                    $"tocsin: notify test: not sent to {definition.Name} ({definition.Type}, {describe}): {ex.Message}{(ex.Permanent ? " (permanent: fix the configuration)" : " (transient: a retry may work)")}").ConfigureAwait(false);
                return 1;
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                await Console.Error.WriteLineAsync(
                    $"tocsin: notify test: not sent to {definition.Name} ({definition.Type}, {describe}): no answer in {TestTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s").ConfigureAwait(false);
                return 1;
            }

            long ms = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            Console.Out.WriteLine($"sent to {definition.Name} ({definition.Type}, {describe}) in {ms.ToString(CultureInfo.InvariantCulture)} ms");
            return 0;
        });
        return cmd;
    }

    private static (TocsinConfig Config, NotificationChannelTypeRegistry Types) Load(ParseResult parse)
    {
        var types = NotificationChannelTypes.CreateDefault();
        var config = new ConfigLoader(CheckKinds.CreateDefault(TimeProvider.System), types).Load(TocsinCommand.ResolveConfigPath(parse));
        return (config, types);
    }
}
