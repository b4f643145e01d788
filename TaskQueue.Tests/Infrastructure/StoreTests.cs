using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Infrastructure;

/// <summary>
/// The base of the store's transition tests: they run on the shared single Redis, and once more on the shared Redis
/// Cluster through a subclass that says <see cref="OnCluster"/> (Storage/OnClusterTests.cs), so the same test proves
/// both without a copy. Their queues (random names) fall on every shard of the cluster.
/// </summary>
public abstract class StoreTests
{
    /// <summary>True in the subclasses that run the tests against the Redis Cluster.</summary>
    protected virtual bool OnCluster => false;

    /// <summary>A store harness on this class's Redis (<see cref="StoreHarness.CreateAsync"/>).</summary>
    protected Task<StoreHarness> NewStoreAsync(Action<TaskStoreOptions>? configure = null) => StoreHarness.CreateAsync(configure, OnCluster);
}
