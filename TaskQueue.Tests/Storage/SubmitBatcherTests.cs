using Microsoft.Extensions.Logging.Abstractions;
using TaskQueue.Broker.Dispatch;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Fakes;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Storage;

/// <summary>The submit batcher wakes the dispatchers itself, as soon as a batch is stored (not the request after it).</summary>
public sealed class SubmitBatcherTests
{
    [Fact]
    public async Task A_stored_submit_has_announced_its_queue_ready_by_the_time_the_submitter_hears_back()
    {
        var h = await StoreHarness.CreateAsync();
        var announced = new RecordingReadyAnnouncer();
        await using var batcher = new SubmitBatcher(h.Store, announced, NullLogger<SubmitBatcher>.Instance);

        var results = await batcher.EnqueueAsync([h.Task()], CancellationToken.None);

        Assert.False(results[0].Duplicate);
        Assert.Equal([h.Queue], announced.Queues);
    }

    [Fact]
    public async Task A_submission_across_two_queues_announces_each_queue_once()
    {
        var h = await StoreHarness.CreateAsync();
        var other = "q-" + Guid.NewGuid().ToString("N")[..12];
        var announced = new RecordingReadyAnnouncer();
        await using var batcher = new SubmitBatcher(h.Store, announced, NullLogger<SubmitBatcher>.Instance);

        var results = await batcher.EnqueueAsync([h.Task(), h.Task() with { Queue = other }, h.Task()], CancellationToken.None);

        Assert.Equal([h.Queue, other, h.Queue], results.Select(r => r.Id.Queue));
        // The two queues' lanes store in parallel: either may be announced first, each exactly once.
        Assert.Equal(new[] { h.Queue, other }.Order(StringComparer.Ordinal), announced.Queues.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_submission_refused_by_validation_announces_nothing()
    {
        var h = await StoreHarness.CreateAsync();
        var announced = new RecordingReadyAnnouncer();
        await using var batcher = new SubmitBatcher(h.Store, announced, NullLogger<SubmitBatcher>.Instance);

        await Assert.ThrowsAsync<TaskValidationException>(() => batcher.EnqueueAsync([h.Task(), h.Task(type: "")], CancellationToken.None));

        Assert.Empty(announced.Queues);
        Assert.Equal(0, (await h.Store.GetCountsAsync(h.Queue)).Submitted);
    }
}
