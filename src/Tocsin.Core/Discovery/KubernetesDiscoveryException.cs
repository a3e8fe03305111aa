namespace Tocsin.Discovery;

/// <summary>Why <see cref="KubernetesPodDiscovery"/> could not list the pods.</summary>
public enum KubernetesDiscoveryFailure
{
    /// <summary>No usable configuration: no kubeconfig found, a kubeconfig that cannot be read or parsed, an unknown context,
    /// or in-cluster files missing.</summary>
    Configuration,

    /// <summary>The API server could not be reached (connection refused, DNS, TLS, timeout).</summary>
    Unreachable,

    /// <summary>HTTP 401: the token or client certificate was refused (wrong, expired, revoked).</summary>
    Unauthorized,

    /// <summary>HTTP 403: authenticated, but RBAC does not allow listing pods in the namespace.</summary>
    Forbidden,

    /// <summary>Another HTTP error, or an answer that is not a pod list.</summary>
    ApiError,
}

/// <summary>
/// Thrown by <see cref="KubernetesPodDiscovery"/> when the pods cannot be listed. The message says what failed and what to do
/// (for <see cref="KubernetesDiscoveryFailure.Forbidden"/>: the verb, resource and namespace the RBAC role must allow). It never
/// contains a bearer token, a password, a client key or certificate data, and carries no inner exception that could.
/// </summary>
public sealed class KubernetesDiscoveryException : Exception
{
    /// <summary>Creates the exception.</summary>
    public KubernetesDiscoveryException(KubernetesDiscoveryFailure failure, string message)
        : base(message) => Failure = failure;

    /// <summary>Creates the exception with a generic message (for serializers and analyzers; prefer the other constructor).</summary>
    public KubernetesDiscoveryException()
        : this(KubernetesDiscoveryFailure.ApiError, "Kubernetes pod discovery failed")
    {
    }

    /// <summary>Creates the exception with <see cref="KubernetesDiscoveryFailure.ApiError"/>.</summary>
    public KubernetesDiscoveryException(string message)
        : this(KubernetesDiscoveryFailure.ApiError, message)
    {
    }

    /// <summary>Creates the exception with <see cref="KubernetesDiscoveryFailure.ApiError"/>; the inner exception must not carry secrets.</summary>
    public KubernetesDiscoveryException(string message, Exception innerException)
        : base(message, innerException) => Failure = KubernetesDiscoveryFailure.ApiError;

    /// <summary>What failed.</summary>
    public KubernetesDiscoveryFailure Failure { get; }

    /// <summary>The HTTP status the API server answered, when it answered.</summary>
    public int? StatusCode { get; init; }
}
