using System.ComponentModel.DataAnnotations;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Unit;

public sealed class TaskStoreOptionsTests
{
    [Fact]
    public void The_defaults_are_valid() => new TaskStoreOptions().Validate();

    [Fact]
    public void The_backoff_is_built_from_the_options()
    {
        var options = new TaskStoreOptions
        {
            BackoffInitial = TimeSpan.FromSeconds(2),
            BackoffMultiplier = 3,
            BackoffMax = TimeSpan.FromMinutes(1),
            BackoffJitter = 0.5,
        };

        Assert.Equal(new BackoffPolicy(TimeSpan.FromSeconds(2), 3, TimeSpan.FromMinutes(1), 0.5), options.Backoff);
    }

    [Fact]
    public void By_default_no_write_waits_for_a_replica() => Assert.Equal(0, new TaskStoreOptions().AckReplicas);

    [Fact]
    public void The_default_backoff_is_the_default_policy() => Assert.Equal(BackoffPolicy.Default, new TaskStoreOptions().Backoff);

    public static TheoryData<string, Action<TaskStoreOptions>> SoundEdges => new()
    {
        { "zero retention (delete at once)", o => o.Retention = TimeSpan.Zero },
        { "empty queues forgotten after 1 ms", o => o.QueueIdleExpiry = TimeSpan.FromMilliseconds(1) },
        { "one dead letter", o => o.DeadLetterMaxCount = 1 },
        { "ten million dead letters", o => o.DeadLetterMaxCount = 10_000_000 },
        { "no payload", o => o.MaxPayloadBytes = 0 },
        { "64 MiB payload", o => o.MaxPayloadBytes = 64 * 1024 * 1024 },
        { "one attempt", o => o.DefaultMaxAttempts = 1 },
        { "a thousand attempts", o => o.DefaultMaxAttempts = 1000 },
        { "multiplier one", o => o.BackoffMultiplier = 1 },
        { "multiplier a hundred", o => o.BackoffMultiplier = 100 },
        { "no jitter", o => o.BackoffJitter = 0 },
        { "full jitter", o => o.BackoffJitter = 1 },
        { "promote one", o => o.PromoteBatchSize = 1 },
        { "promote ten thousand", o => o.PromoteBatchSize = 10_000 },
        { "constant backoff", o => o.BackoffMax = o.BackoffInitial },
        { "tiny dead-letter age", o => o.DeadLetterMaxAge = TimeSpan.FromTicks(1) },
        { "strict priority", o => o.PriorityMaxWait = TimeSpan.Zero },
        { "one-byte results", o => o.MaxResultBytes = 1 },
        { "results up to the protocol's message size", o => o.MaxResultBytes = 16 * 1024 * 1024 },
        { "sixteen replicas to acknowledge", o => o.AckReplicas = 16 },
        { "a replica within 1 ms", o => { o.AckReplicas = 1; o.AckTimeout = TimeSpan.FromMilliseconds(1); } },
        { "a replica within the longest wait", o => { o.AckReplicas = 1; o.AckTimeout = TaskStoreOptions.MaxAckTimeout; } },
        { "no replica, so the wait is not read", o => { o.AckReplicas = 0; o.AckTimeout = TimeSpan.Zero; } },
    };

    [Theory]
    [MemberData(nameof(SoundEdges))]
    public void Settings_at_the_edge_of_their_range_are_valid(string because, Action<TaskStoreOptions> change)
    {
        var options = new TaskStoreOptions();
        change(options);

        var error = Record.Exception(options.Validate);

        Assert.True(error is null, $"{because}: {error?.Message}");
    }

    public static TheoryData<string, Action<TaskStoreOptions>> OutOfRange => new()
    {
        { "negative retention", o => o.Retention = TimeSpan.FromMilliseconds(-1) },
        { "zero dead-letter age", o => o.DeadLetterMaxAge = TimeSpan.Zero },
        { "negative dead-letter age", o => o.DeadLetterMaxAge = TimeSpan.FromDays(-1) },
        { "no dead letters", o => o.DeadLetterMaxCount = 0 },
        { "too many dead letters", o => o.DeadLetterMaxCount = 10_000_001 },
        { "negative payload limit", o => o.MaxPayloadBytes = -1 },
        { "payload limit over 64 MiB", o => o.MaxPayloadBytes = (64 * 1024 * 1024) + 1 },
        { "zero attempts", o => o.DefaultMaxAttempts = 0 },
        { "over a thousand attempts", o => o.DefaultMaxAttempts = 1001 },
        { "shrinking backoff", o => o.BackoffMultiplier = 0.5 },
        { "multiplier over a hundred", o => o.BackoffMultiplier = 100.5 },
        { "NaN multiplier", o => o.BackoffMultiplier = double.NaN },
        { "negative jitter", o => o.BackoffJitter = -0.1 },
        { "jitter over one", o => o.BackoffJitter = 1.1 },
        { "NaN jitter", o => o.BackoffJitter = double.NaN },
        { "promote none", o => o.PromoteBatchSize = 0 },
        { "empty queues forgotten at once", o => o.QueueIdleExpiry = TimeSpan.Zero },
        { "negative queue idle expiry", o => o.QueueIdleExpiry = TimeSpan.FromSeconds(-1) },
        { "promote too many", o => o.PromoteBatchSize = 10_001 },
        { "negative priority max wait", o => o.PriorityMaxWait = TimeSpan.FromSeconds(-1) },
        { "no results at all", o => o.MaxResultBytes = 0 },
        { "results over the protocol's message size", o => o.MaxResultBytes = (16 * 1024 * 1024) + 1 },
        { "negative replicas to acknowledge", o => o.AckReplicas = -1 },
        { "more than sixteen replicas", o => o.AckReplicas = 17 },
        { "a replica within no time (WAIT 0 waits for ever)", o => { o.AckReplicas = 1; o.AckTimeout = TimeSpan.Zero; } },
        { "a replica within a negative time", o => { o.AckReplicas = 1; o.AckTimeout = TimeSpan.FromSeconds(-1); } },
        { "a replica within longer than the client's command timeout", o => { o.AckReplicas = 1; o.AckTimeout = TaskStoreOptions.MaxAckTimeout + TimeSpan.FromMilliseconds(1); } },
    };

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public void Settings_out_of_range_are_rejected(string because, Action<TaskStoreOptions> change)
    {
        var options = new TaskStoreOptions();
        change(options);

        Assert.True(Assert.ThrowsAny<ValidationException>(options.Validate) is not null, because);
    }

    [Theory]
    [InlineData(-1, 1000)]
    [InlineData(2000, 1000)]
    public void A_backoff_whose_initial_delay_is_negative_or_above_its_maximum_is_rejected(int initialMs, int maxMs)
    {
        var options = new TaskStoreOptions
        {
            BackoffInitial = TimeSpan.FromMilliseconds(initialMs),
            BackoffMax = TimeSpan.FromMilliseconds(maxMs),
        };

        Assert.Throws<ArgumentException>(options.Validate);
    }
}
