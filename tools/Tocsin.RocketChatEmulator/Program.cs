using System.Globalization;
using System.Runtime.InteropServices;
using Tocsin.RocketChatEmulator;

// dotnet run --project tools/Tocsin.RocketChatEmulator -- [options]   (see README.md)
// Starts N instances on free loopback ports with a user (and its PAT) and an incoming webhook into #general, installs the
// apps asked for, applies the scripted misbehaviour, prints how to reach them, and runs until Ctrl+C. Each message received
// is printed. Lines on standard input change the cluster while it runs (type "help").
const string Usage = """
    usage: Tocsin.RocketChatEmulator [options]      (instances are numbered from 0)
      --instances N                  instances to start, 1 to 64 (default 1)
      --user-id ID --pat TOKEN       the API user's X-User-Id / X-Auth-Token (default: random)
      --version I=VERSION            what /api/info of instance I reports (default 6.13.0)
      --app ID:NAME:STATUS[,STATUS…] install an app: one status for every instance, or one per instance ("-" = not installed)
      --fail-enable I:ID:MODE[:TIMES] POST /api/apps/ID/status on instance I: http500, refused, does-not-stick, reverts,
                                     error-disabled (every time, or the next TIMES calls)
      --slow I=MS                    instance I answers every request MS milliseconds late
      --dead I                       instance I is down (port closed) from the start
      --phantom HOST:PORT            list an extra, serverless instance in /api/v1/instances.get
    """;

var options = new Dictionary<string, List<string>>(StringComparer.Ordinal);
string[] known = ["--instances", "--user-id", "--pat", "--version", "--app", "--fail-enable", "--slow", "--dead", "--phantom"];
for (int i = 0; i < args.Length; i++)
{
    if (!known.Contains(args[i]) || i + 1 >= args.Length)
    {
        return Fail($"unknown option or missing value: {args[i]}");
    }

    if (!options.TryGetValue(args[i], out var values))
    {
        options[args[i]] = values = [];
    }

    values.Add(args[++i]);
}

int instances = 1;
if (options.TryGetValue("--instances", out var countText))
{
    if (!int.TryParse(countText[^1], NumberStyles.None, CultureInfo.InvariantCulture, out instances) || instances is < 1 or > 64)
    {
        return Fail("--instances takes a number from 1 to 64");
    }
}

var versions = new string[instances];
foreach (var spec in options.GetValueOrDefault("--version") ?? [])
{
    if (!TryIndexed(spec, '=', instances, out int index, out string version) || version.Length == 0)
    {
        return Fail($"--version {spec}: expected I=VERSION with I from 0 to {instances - 1}");
    }

    versions[index] = version;
}

await using var emulator = await RocketChatEmulator.StartAsync(new RocketChatEmulatorOptions
{
    Instances = instances,
    Versions = [.. versions.Select(v => v ?? "6.13.0")],
});

string? fixedId = options.GetValueOrDefault("--user-id")?[^1];
string? fixedPat = options.GetValueOrDefault("--pat")?[^1];
var user = emulator.State.AddUser("tocsin-bot", fixedId, fixedPat);
var general = emulator.State.FindRoom("GENERAL")!;
var hook = emulator.State.AddIncomingWebhook(general, user);

try
{
    foreach (var spec in options.GetValueOrDefault("--app") ?? [])
    {
        string[] parts = spec.Split(':', 3);
        if (parts.Length != 3 || parts[0].Length == 0 || parts[1].Length == 0)
        {
            return Fail($"--app {spec}: expected ID:NAME:STATUS[,STATUS…]");
        }

        var app = new RocketChatApp(parts[0], parts[1]);
        string[] statuses = parts[2].Split(',');
        if (statuses.Length == 1)
        {
            emulator.InstallApp(app, statuses[0]);
        }
        else
        {
            emulator.InstallAppPerInstance(app, [.. statuses.Select(s => s == "-" ? null : s)]);
        }
    }

    foreach (var spec in options.GetValueOrDefault("--fail-enable") ?? [])
    {
        string[] parts = spec.Split(':');
        if (parts.Length is < 3 or > 4 || !TryIndex(parts[0], instances, out int index) || ParseFailure(parts[2]) is not { } failure)
        {
            return Fail($"--fail-enable {spec}: expected I:APPID:MODE[:TIMES], MODE one of http500, refused, does-not-stick, reverts, error-disabled");
        }

        int? times = parts.Length == 4 && int.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out int t) && t > 0 ? t : null;
        emulator.Instances[index].FailStatusChanges(parts[1], failure, times);
    }
}
catch (Exception e) when (e is ArgumentException or KeyNotFoundException)
{
    return Fail(e.Message);
}

foreach (var spec in options.GetValueOrDefault("--slow") ?? [])
{
    if (!TryIndexed(spec, '=', instances, out int index, out string ms) || !int.TryParse(ms, NumberStyles.None, CultureInfo.InvariantCulture, out int delay))
    {
        return Fail($"--slow {spec}: expected I=MILLISECONDS");
    }

    emulator.Instances[index].Delay = TimeSpan.FromMilliseconds(delay);
}

foreach (var spec in options.GetValueOrDefault("--phantom") ?? [])
{
    int colon = spec.LastIndexOf(':');
    if (colon <= 0 || !int.TryParse(spec.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
    {
        return Fail($"--phantom {spec}: expected HOST:PORT");
    }

    emulator.State.AddPhantomInstance(spec[..colon], port);
}

foreach (var instance in emulator.Instances)
{
    Console.WriteLine($"instance {instance.Index}: {instance.BaseAddress}  version {instance.Version}");
}

foreach (var spec in options.GetValueOrDefault("--dead") ?? [])
{
    if (!TryIndex(spec, instances, out int index))
    {
        return Fail($"--dead {spec}: expected an instance number from 0 to {instances - 1}");
    }

    await emulator.Instances[index].GoDownAsync();
    Console.WriteLine($"instance {index} is down");
}

Console.WriteLine($"user: tocsin-bot  userId: {user.Id}  pat: {user.Pat}  (X-User-Id / X-Auth-Token)");
Console.WriteLine($"rooms: GENERAL (#general)");
Console.WriteLine($"incoming webhook: {emulator.Instances[0].Url(hook.Path)}");
PrintApps(emulator);
Console.WriteLine("Ctrl+C to stop; \"help\" for the commands read from standard input.");

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

// Each instance's host would otherwise take SIGTERM for itself (stopping that instance, not the process).
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.Cancel();
});
_ = Task.Run(() => ReadCommandsAsync(emulator, stop.Token));
int shown = 0;
while (!stop.IsCancellationRequested)
{
    try
    {
        await Task.Delay(TimeSpan.FromMilliseconds(200), stop.Token);
    }
    catch (OperationCanceledException)
    {
        break;
    }

    var messages = emulator.State.Messages;
    for (; shown < messages.Count; shown++)
    {
        var m = messages[shown];
        Console.WriteLine($"{m.Time:O} [{m.Instance}] {m.Endpoint} {m.RoomId} @{m.Username}: {m.Text}");
    }
}

return 0;

static int Fail(string message)
{
    Console.Error.WriteLine(message);
    Console.Error.WriteLine(Usage);
    return 64;
}

static bool TryIndex(string text, int count, out int index) =>
    int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out index) && index < count;

static bool TryIndexed(string spec, char separator, int count, out int index, out string value)
{
    int at = spec.IndexOf(separator, StringComparison.Ordinal);
    value = at < 0 ? "" : spec[(at + 1)..];
    index = -1;
    return at > 0 && TryIndex(spec[..at], count, out index);
}

static RocketChatStatusChangeFailure? ParseFailure(string mode) => mode switch
{
    "none" => RocketChatStatusChangeFailure.None,
    "http500" => RocketChatStatusChangeFailure.Http500,
    "refused" => RocketChatStatusChangeFailure.Refused,
    "does-not-stick" => RocketChatStatusChangeFailure.DoesNotStick,
    "reverts" => RocketChatStatusChangeFailure.RevertsAfterOneRead,
    "error-disabled" => RocketChatStatusChangeFailure.ErrorDisabled,
    _ => null,
};

static void PrintApps(RocketChatEmulator emulator)
{
    var ids = emulator.Instances.SelectMany(i => i.Apps).Select(a => a.App).DistinctBy(a => a.Id).ToList();
    foreach (var app in ids)
    {
        Console.WriteLine($"app {app.Id} ({app.Name}): {string.Join("  ", emulator.AppStatuses(app.Id).Select((s, i) => $"[{i}] {s ?? "-"}"))}");
    }
}

// Commands while running: status I APPID STATUS | fail I APPID MODE [TIMES] | slow I MS | down I | up I | apps | help
static async Task ReadCommandsAsync(RocketChatEmulator emulator, CancellationToken cancellationToken)
{
    while (!cancellationToken.IsCancellationRequested && await Console.In.ReadLineAsync(cancellationToken) is { } line)
    {
        string[] w = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (w.Length == 0)
        {
            continue;
        }

        try
        {
            int count = emulator.Instances.Count;
            switch (w)
            {
                case ["status", var i, var appId, var status] when TryIndex(i, count, out int n):
                    emulator.Instances[n].SetAppStatus(appId, status);
                    PrintApps(emulator);
                    break;
                case ["fail", var i, var appId, var mode, .. var rest] when TryIndex(i, count, out int n) && ParseFailure(mode) is { } failure:
                    emulator.Instances[n].FailStatusChanges(appId, failure, rest is [var t] ? int.Parse(t, CultureInfo.InvariantCulture) : null);
                    Console.WriteLine($"instance {n}: status changes of {appId}: {mode}");
                    break;
                case ["slow", var i, var ms] when TryIndex(i, count, out int n):
                    emulator.Instances[n].Delay = TimeSpan.FromMilliseconds(int.Parse(ms, CultureInfo.InvariantCulture));
                    Console.WriteLine($"instance {n}: answers {ms} ms late");
                    break;
                case ["down", var i] when TryIndex(i, count, out int n):
                    await emulator.Instances[n].GoDownAsync();
                    Console.WriteLine($"instance {n} is down");
                    break;
                case ["up", var i] when TryIndex(i, count, out int n):
                    await emulator.Instances[n].ComeBackAsync(cancellationToken);
                    Console.WriteLine($"instance {n} is up: {emulator.Instances[n].BaseAddress}");
                    break;
                case ["apps"]:
                    PrintApps(emulator);
                    break;
                default:
                    Console.WriteLine("commands: status I APPID STATUS | fail I APPID MODE [TIMES] | slow I MS | down I | up I | apps");
                    break;
            }
        }
        catch (Exception e) when (e is ArgumentException or KeyNotFoundException or FormatException or OverflowException)
        {
            Console.WriteLine(e.Message);
        }
    }
}
