using System.Globalization;
using Tocsin.KubernetesEmulator;

// dotnet run --project tools/Tocsin.KubernetesEmulator -- [options]   (see README.md)
// Starts an emulated Kubernetes API server on a free loopback port with one service account allowed to get and list pods in
// its namespace, adds the pods asked for, writes a kubeconfig, and runs until Ctrl+C. Lines on standard input change the pods.
const string Usage = """
    usage: Tocsin.KubernetesEmulator [options]
      --namespace NS            the namespace of the service account and of the pods (default: chat)
      --token TOKEN             the service account's bearer token (default: random)
      --pod NAME=IP:PORT        a running, ready pod labelled app=rocketchat with container port PORT named http (repeatable)
      --kubeconfig PATH         where to write the kubeconfig (default: ./kubeconfig.emulator)
      --tls                     serve HTTPS with a self-signed certificate (in the kubeconfig)
    """;

string ns = "chat", kubeconfig = "kubeconfig.emulator";
string? token = null;
bool tls = false;
var pods = new List<KubernetesPod>();
for (int i = 0; i < args.Length; i++)
{
    string arg = args[i];
    if (arg == "--tls")
    {
        tls = true;
        continue;
    }

    if (i + 1 >= args.Length)
    {
        return Fail($"missing value of {arg}");
    }

    string value = args[++i];
    switch (arg)
    {
        case "--namespace":
            ns = value;
            break;
        case "--token":
            token = value;
            break;
        case "--kubeconfig":
            kubeconfig = value;
            break;
        case "--pod" when ParsePod(value, ns) is { } pod:
            pods.Add(pod);
            break;
        default:
            return Fail($"unknown option or bad value: {arg} {value}");
    }
}

await using var k8s = await KubernetesEmulator.StartAsync(new KubernetesEmulatorOptions { Tls = tls });
var account = k8s.AddServiceAccount(ns, "tocsin", token).Allow(ns, "get", "list");
foreach (var pod in pods)
{
    k8s.Apply(pod with { Namespace = ns });
}

string path = Path.GetFullPath(k8s.WriteKubeconfig(kubeconfig, account, ns));
Console.WriteLine($"API server: {k8s.BaseAddress}");
Console.WriteLine($"service account: {account.User}  token: {account.Token}  (may get and list pods in {ns})");
Console.WriteLine($"kubeconfig: {path}");
Console.WriteLine($"try: kubectl --kubeconfig {path} get pods   (or curl -H 'Authorization: Bearer {account.Token}' {k8s.BaseAddress}api/v1/namespaces/{ns}/pods)");
PrintPods(k8s);
Console.WriteLine("Ctrl+C to stop; \"help\" for the commands read from standard input.");

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

try
{
    while (!stop.IsCancellationRequested && await Console.In.ReadLineAsync(stop.Token) is { } line)
    {
        Run(k8s, ns, line.Split(' ', StringSplitOptions.RemoveEmptyEntries));
    }

    // Standard input closed (e.g. started in the background): serve until stopped.
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
}

return 0;

static int Fail(string message)
{
    Console.Error.WriteLine(message);
    Console.Error.WriteLine(Usage);
    return 64;
}

static KubernetesPod? ParsePod(string spec, string ns)
{
    int eq = spec.IndexOf('=', StringComparison.Ordinal), colon = spec.LastIndexOf(':');
    return eq > 0 && colon > eq + 1 && int.TryParse(spec.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is >= 1 and <= 65535
        ? KubernetesPod.RocketChat(spec[..eq], spec[(eq + 1)..colon], port, ns)
        : null;
}

static void PrintPods(KubernetesEmulator k8s)
{
    foreach (var p in k8s.Pods)
    {
        string state = p.DeletionTimestamp is not null ? "Terminating" : p.Phase;
        Console.WriteLine($"pod {p.Namespace}/{p.Name}: {state}{(p.Ready ? ", ready" : ", not ready")}, IP {p.PodIP ?? "-"}, ports {string.Join(",", p.Containers.SelectMany(c => c.Ports).Select(x => x.ContainerPort))}");
    }
}

// Commands: add NAME IP:PORT | remove NAME | ready NAME | notready NAME | pending NAME | running NAME | terminating NAME | pods | help
static void Run(KubernetesEmulator k8s, string ns, string[] w)
{
    try
    {
        switch (w)
        {
            case []:
                return;
            case ["add", var name, var address] when ParsePod($"{name}={address}", ns) is { } pod:
                k8s.Apply(pod);
                break;
            case ["remove", var name]:
                k8s.Delete(ns, name);
                break;
            case ["ready", var name]:
                k8s.Update(ns, name, p => p with { Ready = true });
                break;
            case ["notready", var name]:
                k8s.Update(ns, name, p => p with { Ready = false });
                break;
            case ["pending", var name]:
                k8s.Update(ns, name, p => p with { Phase = KubernetesPodPhase.Pending, Ready = false });
                break;
            case ["running", var name]:
                k8s.Update(ns, name, p => p with { Phase = KubernetesPodPhase.Running, DeletionTimestamp = null });
                break;
            case ["terminating", var name]:
                k8s.Terminate(ns, name);
                break;
            case ["pods"]:
                break;
            default:
                Console.WriteLine("commands: add NAME IP:PORT | remove NAME | ready NAME | notready NAME | pending NAME | running NAME | terminating NAME | pods");
                return;
        }
    }
    catch (KeyNotFoundException ex)
    {
        Console.WriteLine(ex.Message);
        return;
    }

    PrintPods(k8s);
}
