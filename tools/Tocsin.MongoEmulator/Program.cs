using System.Globalization;
using Tocsin.MongoEmulator;

// dotnet run --project tools/Tocsin.MongoEmulator -- [options]   (see README.md)
// Starts the members of a replica set on free loopback ports, applies the scripted states, prints the connection string,
// and runs until Ctrl+C or SIGTERM. Lines on standard input change the set while it runs (type "help").
const string Usage = """
    usage: Tocsin.MongoEmulator [options]        (members are numbered from 0)
      --members N           members to start, 1 to 50 (default 3); member 0 is PRIMARY, the others SECONDARY
      --set-name NAME       the replica set's name (default rs0)
      --standalone          not a replica set: replSetGetStatus fails with code 76 NoReplicationEnabled
      --state I=STATE       member I's state: PRIMARY, SECONDARY, RECOVERING, STARTUP2, ARBITER, ROLLBACK, … (or its number)
      --lag I=SECONDS       member I's optimeDate is SECONDS behind the newest write
      --unhealthy I         the other members report member I as health 0 (it still answers)
      --down I              member I is down (port closed) from the start
      --version V           the version buildInfo reports (default 7.0.14)
    """;
const string Commands = "commands: state I STATE | lag I SECONDS | unhealthy I | healthy I | down I | up I | set-name NAME | standalone on|off | status";

var options = new List<(string Name, string Value)>();
bool standalone = false;
string[] valued = ["--members", "--set-name", "--state", "--lag", "--unhealthy", "--down", "--version"];
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--standalone")
    {
        standalone = true;
    }
    else if (valued.Contains(args[i]) && i + 1 < args.Length)
    {
        options.Add((args[i], args[++i]));
    }
    else
    {
        return Fail($"unknown option or missing value: {args[i]}");
    }
}

string? Last(string name) => options.LastOrDefault(o => o.Name == name).Value;
int members = 3;
if (Last("--members") is { } count && (!int.TryParse(count, NumberStyles.None, CultureInfo.InvariantCulture, out members) || members is < 1 or > 50))
{
    return Fail("--members takes a number from 1 to 50");
}

string setName = Last("--set-name") ?? "rs0";
if (setName.Length == 0)
{
    return Fail("--set-name must not be empty");
}

await using var emulator = await MongoEmulator.StartAsync(new MongoEmulatorOptions
{
    Members = members,
    SetName = setName,
    ReplicationEnabled = !standalone,
    Version = Last("--version") ?? "7.0.14",
});

foreach (var (name, value) in options)
{
    string? problem = name switch
    {
        "--state" => Indexed(value, emulator, (m, v) => MongoMemberStates.TryParse(v, out var s) && Set(() => m.State = s)),
        "--lag" => Indexed(value, emulator, (m, v) => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s >= 0 && Set(() => m.Lag = TimeSpan.FromSeconds(s))),
        "--unhealthy" => Index(value, emulator) is { } m ? Ok(() => m.Healthy = false) : "expected a member number",
        "--down" => Index(value, emulator) is { } m ? Ok(() => m.GoDownAsync().GetAwaiter().GetResult()) : "expected a member number",
        _ => null,
    };
    if (problem is not null)
    {
        return Fail($"{name} {value}: {problem}");
    }
}

Console.WriteLine($"connection string: {emulator.ConnectionString}");
PrintStatus(emulator);
Console.WriteLine("Credentials are not emulated: connect without user and password (authentication always fails).");
Console.WriteLine($"Ctrl+C to stop; \"help\" for the commands read from standard input.");

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.Cancel();
});
_ = Task.Run(() => ReadCommandsAsync(emulator, stop.Token));
try
{
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
    // Ctrl+C or SIGTERM.
}

return 0;

static int Fail(string message)
{
    Console.Error.WriteLine(message);
    Console.Error.WriteLine(Usage);
    return 64;
}

static bool Set(Action action)
{
    action();
    return true;
}

static string? Ok(Action action)
{
    action();
    return null;
}

static MongoMember? Index(string text, MongoEmulator emulator) =>
    int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int i) && i < emulator.Members.Count ? emulator.Members[i] : null;

static string? Indexed(string spec, MongoEmulator emulator, Func<MongoMember, string, bool> apply)
{
    int at = spec.IndexOf('=', StringComparison.Ordinal);
    if (at <= 0 || Index(spec[..at], emulator) is not { } member)
    {
        return $"expected I=VALUE with I from 0 to {emulator.Members.Count - 1}";
    }

    return apply(member, spec[(at + 1)..]) ? null : $"value {spec[(at + 1)..]} is not allowed";
}

static void PrintStatus(MongoEmulator emulator)
{
    Console.WriteLine(emulator.ReplicationEnabled ? $"replica set {emulator.SetName}:" : "standalone servers (not a replica set):");
    foreach (var m in emulator.Members)
    {
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"  [{m.Index}] {m.Host}  {MongoMemberStates.Text(m.State)}{(m.IsDown ? "  DOWN" : "")}{(m.Healthy ? "" : "  unhealthy")}{(m.Lag > TimeSpan.Zero ? $"  lag {m.Lag.TotalSeconds:0.###}s" : "")}"));
    }
}

static async Task ReadCommandsAsync(MongoEmulator emulator, CancellationToken cancellationToken)
{
    while (!cancellationToken.IsCancellationRequested && await Console.In.ReadLineAsync(cancellationToken) is { } line)
    {
        string[] w = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (w.Length == 0)
        {
            continue;
        }

        switch (w)
        {
            case ["state", var i, var s] when Index(i, emulator) is { } m && MongoMemberStates.TryParse(s, out var state):
                m.State = state;
                break;
            case ["lag", var i, var s] when Index(i, emulator) is { } m && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds >= 0:
                m.Lag = TimeSpan.FromSeconds(seconds);
                break;
            case ["unhealthy", var i] when Index(i, emulator) is { } m:
                m.Healthy = false;
                break;
            case ["healthy", var i] when Index(i, emulator) is { } m:
                m.Healthy = true;
                break;
            case ["down", var i] when Index(i, emulator) is { } m:
                await m.GoDownAsync();
                break;
            case ["up", var i] when Index(i, emulator) is { } m:
                await m.ComeBackAsync(cancellationToken);
                break;
            case ["set-name", var name]:
                emulator.SetName = name;
                break;
            case ["standalone", "on" or "off"]:
                emulator.ReplicationEnabled = w[1] == "off";
                break;
            case ["status"]:
                break;
            default:
                Console.WriteLine(Commands);
                continue;
        }

        PrintStatus(emulator);
    }
}
