using System.Security.Cryptography;

namespace Tocsin.KubernetesEmulator;

/// <summary>
/// A service account of the emulated cluster: a bearer token (<c>Authorization: Bearer …</c>), the user name the API server
/// gives it (<c>system:serviceaccount:{namespace}:{name}</c>), and its RBAC rules on pods: which verbs (<c>get</c>,
/// <c>list</c>, …) in which namespaces (a Role and RoleBinding), or in every namespace (a ClusterRole and ClusterRoleBinding).
/// A new account may do nothing.
/// </summary>
public sealed class KubernetesServiceAccount
{
    private readonly Lock _lock = new();
    private readonly List<(string? Namespace, HashSet<string> Verbs)> _rules = [];

    internal KubernetesServiceAccount(string ns, string name, string? token)
    {
        Namespace = ns;
        Name = name;
        Token = token ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    /// <summary>The account's namespace.</summary>
    public string Namespace { get; }

    /// <summary>The account's name.</summary>
    public string Name { get; }

    /// <summary>Its bearer token.</summary>
    public string Token { get; }

    /// <summary>The user name RBAC messages name: <c>system:serviceaccount:{namespace}:{name}</c>.</summary>
    public string User => $"system:serviceaccount:{Namespace}:{Name}";

    /// <summary>Allows <paramref name="verbs"/> (default <c>get</c>, <c>list</c>) on pods in <paramref name="ns"/>, as a Role and
    /// RoleBinding there would; <paramref name="ns"/> null allows them in every namespace and at the cluster scope
    /// (<c>GET /api/v1/pods</c>), as a ClusterRoleBinding would.</summary>
    public KubernetesServiceAccount Allow(string? ns, params string[] verbs)
    {
        ArgumentNullException.ThrowIfNull(verbs);
        lock (_lock)
        {
            _rules.Add((ns, verbs.Length == 0 ? ["get", "list"] : [.. verbs]));
        }

        return this;
    }

    /// <summary>Removes every rule (as deleting the RoleBindings would).</summary>
    public void RevokeAll()
    {
        lock (_lock)
        {
            _rules.Clear();
        }
    }

    /// <summary>Whether the account may do <paramref name="verb"/> on pods in <paramref name="ns"/> (null: at the cluster scope).</summary>
    public bool Can(string verb, string? ns)
    {
        lock (_lock)
        {
            return _rules.Any(r => (r.Namespace is null || r.Namespace == ns) && (r.Verbs.Contains(verb) || r.Verbs.Contains("*")));
        }
    }
}
