namespace Tocsin.Discovery;

/// <summary>
/// What the process's surroundings say about Kubernetes credentials: the in-cluster variables and service-account folder, the
/// <c>KUBECONFIG</c> variable and the home folder. <see cref="FromProcess"/> reads the real ones; tests build their own (a fake
/// service-account folder, a loopback API server) without changing the process's environment.
/// </summary>
/// <param name="ServiceHost"><c>KUBERNETES_SERVICE_HOST</c>: set (non-empty) inside a pod; the API server's address.</param>
/// <param name="ServicePort"><c>KUBERNETES_SERVICE_PORT</c>: the API server's HTTPS port (443 when unset).</param>
/// <param name="ServiceAccountFolder">Where the pod's service-account token, <c>ca.crt</c> and <c>namespace</c> files are
/// (<see cref="DefaultServiceAccountFolder"/> in a real pod).</param>
/// <param name="KubeconfigVariable"><c>KUBECONFIG</c>: one or more kubeconfig paths separated by ':'; the first that exists is used.</param>
/// <param name="HomeFolder">The user's home folder, for <c>~/.kube/config</c>.</param>
public sealed record KubernetesEnvironment(string? ServiceHost, string? ServicePort, string ServiceAccountFolder, string? KubeconfigVariable, string HomeFolder)
{
    /// <summary>Where Kubernetes mounts a pod's service-account credentials.</summary>
    public const string DefaultServiceAccountFolder = "/var/run/secrets/kubernetes.io/serviceaccount";

    /// <summary>Whether this process runs in a pod: <c>KUBERNETES_SERVICE_HOST</c> is set.</summary>
    public bool InCluster => !string.IsNullOrWhiteSpace(ServiceHost);

    /// <summary>The real environment of this process.</summary>
    public static KubernetesEnvironment FromProcess() => new(
        Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST"),
        Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_PORT"),
        DefaultServiceAccountFolder,
        Environment.GetEnvironmentVariable("KUBECONFIG"),
        Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));
}
