using Tocsin.Checks.Command;
using Tocsin.Checks.Http;
using Tocsin.Checks.Tcp;

namespace Tocsin.Checks;

/// <summary>The check kinds built into Tocsin.</summary>
public static class CheckKinds
{
    /// <summary>A registry with every built-in kind (<c>http</c>, <c>tcp</c>, <c>command</c>).</summary>
    public static CheckKindRegistry CreateDefault(TimeProvider time) =>
        new([new HttpCheckKind(new HttpCheckRunner(time)), new TcpCheckKind(time), new CommandCheckKind(time)]);
}
