namespace TaskQueue.Tests.Storage;

// The store's transition tests once more, against the shared Redis Cluster (StoreTests): queues on every shard.

public sealed class EnqueueTestsOnCluster : EnqueueTests
{
    protected override bool OnCluster => true;
}

public sealed class ClaimTestsOnCluster : ClaimTests
{
    protected override bool OnCluster => true;
}

public sealed class LeaseTestsOnCluster : LeaseTests
{
    protected override bool OnCluster => true;
}

public sealed class FailureTestsOnCluster : FailureTests
{
    protected override bool OnCluster => true;
}

public sealed class CancelTestsOnCluster : CancelTests
{
    protected override bool OnCluster => true;
}

public sealed class DeadLetterTestsOnCluster : DeadLetterTests
{
    protected override bool OnCluster => true;
}

public sealed class CrashRedispatchTestsOnCluster : CrashRedispatchTests
{
    protected override bool OnCluster => true;
}

public sealed class DueIndexTestsOnCluster : DueIndexTests
{
    protected override bool OnCluster => true;
}

public sealed class RetentionTestsOnCluster : RetentionTests
{
    protected override bool OnCluster => true;
}

public sealed class ExpiryTestsOnCluster : ExpiryTests
{
    protected override bool OnCluster => true;
}

public sealed class UniqueAndDebounceTestsOnCluster : UniqueAndDebounceTests
{
    protected override bool OnCluster => true;
}

public sealed class GroupTestsOnCluster : GroupTests
{
    protected override bool OnCluster => true;
}

public sealed class LaneTestsOnCluster : LaneTests
{
    protected override bool OnCluster => true;
}

public sealed class ScheduleTestsOnCluster : ScheduleTests
{
    protected override bool OnCluster => true;
}

public sealed class FlowControlTestsOnCluster : FlowControlTests
{
    protected override bool OnCluster => true;
}

public sealed class ProgressCheckpointTestsOnCluster : ProgressCheckpointTests
{
    protected override bool OnCluster => true;
}

public sealed class ExecutionTimeoutTestsOnCluster : ExecutionTimeoutTests
{
    protected override bool OnCluster => true;
}

public sealed class PriorityMaxWaitTestsOnCluster : PriorityMaxWaitTests
{
    protected override bool OnCluster => true;
}

public sealed class ConcurrencyTestsOnCluster : ConcurrencyTests
{
    protected override bool OnCluster => true;
}
