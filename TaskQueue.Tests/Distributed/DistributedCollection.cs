using TaskQueue.Tests.Faults;

namespace TaskQueue.Tests.Distributed;

/// <summary>
/// Process-level tests run one at a time: each starts brokers and workers of its own. The fault campaign's
/// ledgers are collected over the collection and printed at its end.
/// </summary>
[CollectionDefinition(Name)]
public sealed class DistributedCollection : ICollectionFixture<FaultReport>
{
    public const string Name = "Distributed";
}
