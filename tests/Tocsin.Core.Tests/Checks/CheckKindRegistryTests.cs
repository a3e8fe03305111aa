using Tocsin.Checks;
using Tocsin.Checks.MongoDbReplicaSet;
using Tocsin.Configuration;

namespace Tocsin.Core.Tests.Checks;

public sealed class CheckKindRegistryTests
{
    private sealed class Counted : IDisposable
    {
        public int Disposals { get; private set; }

        public void Dispose() => Disposals++;
    }

    private sealed class Runner : ICheckRunner, IDisposable
    {
        public Counted Owned { get; } = new();

        public Task<RunOutcome> RunAsync(CheckDefinition check, CancellationToken cancellationToken) => throw new NotSupportedException();

        public void Dispose() => Owned.Dispose();
    }

    // A kind that is its own runner (as mongodb-replicaset), or that has a separate disposable runner (as http).
    private sealed class Kind(string name, bool ownRunner) : ICheckKind, ICheckRunner, IDisposable
    {
        public Counted Owned { get; } = new();

        public Runner Separate { get; } = new();

        public string Name => name;

        public ICheckRunner Runner => ownRunner ? this : Separate;

        public object ReadOptions(ConfigObjectReader reader) => new();

        public string Describe(object options) => name;

        public Task<RunOutcome> RunAsync(CheckDefinition check, CancellationToken cancellationToken) => throw new NotSupportedException();

        public void Dispose() => Owned.Dispose();
    }

    [Fact]
    public void Disposing_the_registry_disposes_each_disposable_kind_and_runner_once()
    {
        var selfRun = new Kind("self", ownRunner: true);
        var withRunner = new Kind("separate", ownRunner: false);
        var registry = new CheckKindRegistry([selfRun, withRunner]);

        registry.Dispose();

        Assert.Equal(1, selfRun.Owned.Disposals);
        Assert.Equal(0, selfRun.Separate.Owned.Disposals);
        Assert.Equal(1, withRunner.Owned.Disposals);
        Assert.Equal(1, withRunner.Separate.Owned.Disposals);
    }

    [Fact]
    public void The_default_registry_can_be_disposed_and_owns_the_mongodb_kind()
    {
        var registry = CheckKinds.CreateDefault(TimeProvider.System);
        Assert.IsAssignableFrom<IDisposable>(registry.Get(MongoDbReplicaSetCheckKind.KindName));
        registry.Dispose();
    }
}
