using Microsoft.Extensions.Logging.Abstractions;
using Tocsin.Checks;
using Tocsin.Configuration;
using Tocsin.Diagnostics;
using Tocsin.Scheduling;

namespace Tocsin.Core.Tests.Checks;

/// <summary>
/// Builds checks from configuration JSON with the built-in kinds and runs them through a real
/// <see cref="CheckExecutor"/> on the system clock, as the agent does.
/// </summary>
internal static class CheckHarness
{
    public static readonly CheckKindRegistry Kinds = CheckKinds.CreateDefault(TimeProvider.System);

    public static readonly ConfigLoader Loader = new(Kinds);

    private static readonly CheckExecutor Executor = new(Kinds, TimeProvider.System, new TocsinMetrics(), NullLogger<CheckExecutor>.Instance);

    /// <summary>The one check of a Tocsin-format file whose <c>checks</c> array holds <paramref name="checkJson"/>.</summary>
    public static CheckDefinition Parse(string checkJson)
    {
        var config = Loader.Parse($$"""{ "checks": [ {{checkJson}} ] }""", "/tocsin-tests/config.json");
        return Assert.Single(config.Checks);
    }

    /// <summary>Runs <paramref name="check"/> once through the executor.</summary>
    public static Task<CheckResult> RunAsync(CheckDefinition check) =>
        Executor.RunAsync(check, DateTimeOffset.UtcNow, TestContext.Current.CancellationToken);
}
