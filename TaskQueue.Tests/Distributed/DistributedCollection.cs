namespace TaskQueue.Tests.Distributed;

/// <summary>Process-level tests run one at a time: each starts brokers and workers of its own.</summary>
[CollectionDefinition(Name)]
public sealed class DistributedCollection
{
    public const string Name = "Distributed";
}
