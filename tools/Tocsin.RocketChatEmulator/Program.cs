using System.Globalization;
using Tocsin.RocketChatEmulator;

// dotnet run --project tools/Tocsin.RocketChatEmulator -- [--instances N]
// Starts N instances on free loopback ports with a user (and its PAT) and an incoming webhook into #general, prints how
// to reach them, and runs until Ctrl+C. Each message received is printed.
int instances = 1;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--instances" && i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= 64)
    {
        instances = n;
        i++;
    }
    else
    {
        Console.Error.WriteLine("usage: Tocsin.RocketChatEmulator [--instances N]   (N from 1 to 64; default 1)");
        return 64;
    }
}

await using var emulator = await RocketChatEmulator.StartAsync(new RocketChatEmulatorOptions { Instances = instances });
var user = emulator.State.AddUser("tocsin-bot");
var general = emulator.State.FindRoom("GENERAL")!;
var hook = emulator.State.AddIncomingWebhook(general, user);
foreach (var instance in emulator.Instances)
{
    Console.WriteLine($"instance {instance.Index}: {instance.BaseAddress}");
}

Console.WriteLine($"user: tocsin-bot  userId: {user.Id}  pat: {user.Pat}  (X-User-Id / X-Auth-Token)");
Console.WriteLine($"rooms: GENERAL (#general)");
Console.WriteLine($"incoming webhook: {emulator.Instances[0].Url(hook.Path)}");
Console.WriteLine("Ctrl+C to stop.");

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
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
