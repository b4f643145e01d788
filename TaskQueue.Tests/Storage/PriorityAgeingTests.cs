using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Storage;

public sealed class PriorityAgeingTests
{
    [Fact]
    public async Task A_low_priority_task_that_waited_long_enough_goes_before_fresh_high_priority_work()
    {
        var h = await StoreHarness.CreateAsync(o => o.PriorityAgeingStep = TimeSpan.FromMilliseconds(40));
        var old = (await h.Store.EnqueueAsync(h.Task() with { Priority = 0 })).Id;
        var waited = DateTime.UtcNow;
        await Eventually.TrueAsync(() => Task.FromResult(DateTime.UtcNow - waited > TimeSpan.FromMilliseconds(600)), TimeSpan.FromSeconds(5), () => "clock");
        await h.Store.EnqueueBatchAsync([.. Enumerable.Range(0, 5).Select(_ => h.Task() with { Priority = 9 })]);

        var first = Assert.Single((await h.Store.ClaimAsync(h.Queue, "w", 1, TimeSpan.FromSeconds(30))).Tasks);

        Assert.Equal(old, first.Id);
    }

    [Fact]
    public async Task Without_ageing_fresh_high_priority_work_always_goes_first()
    {
        var h = await StoreHarness.CreateAsync(o => o.PriorityAgeingStep = TimeSpan.Zero);
        await h.Store.EnqueueAsync(h.Task() with { Priority = 0 });
        var waited = DateTime.UtcNow;
        await Eventually.TrueAsync(() => Task.FromResult(DateTime.UtcNow - waited > TimeSpan.FromMilliseconds(300)), TimeSpan.FromSeconds(5), () => "clock");
        var high = await h.Store.EnqueueAsync(h.Task() with { Priority = 9 });

        var first = Assert.Single((await h.Store.ClaimAsync(h.Queue, "w", 1, TimeSpan.FromSeconds(30))).Tasks);

        Assert.Equal(high.Id, first.Id);
    }
}
