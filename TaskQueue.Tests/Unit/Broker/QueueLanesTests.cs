using TaskQueue.Broker.Dispatch;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Unit.Broker;

/// <summary>The batchers' coalescing loops: one per queue, whole items up to a weight, nothing waits when idle.</summary>
public sealed class QueueLanesTests : IAsyncLifetime, IAsyncDisposable
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_poll = TimeSpan.FromMilliseconds(5);
    private readonly Lock _lock = new();
    private readonly List<(string Queue, List<int> Items)> _batches = [];
    private readonly Dictionary<string, TaskCompletionSource> _gates = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _firstBatchStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly QueueLanes<int> _lanes;

    // The weight of an item is its value; a batch weighs at most 10.
    public QueueLanesTests() => _lanes = new QueueLanes<int>(ProcessAsync, item => item, maxWeight: 10);

    Task IAsyncLifetime.InitializeAsync() => Task.CompletedTask;

    // xunit 2 disposes a test class through IAsyncLifetime only (IAsyncDisposable alone is never called).
    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();

    public async ValueTask DisposeAsync()
    {
        foreach (var gate in _gates.Values)
        {
            gate.TrySetResult();
        }

        await _lanes.DisposeAsync();
    }

    private async Task ProcessAsync(string queue, List<int> batch)
    {
        Task gate;
        lock (_lock)
        {
            _batches.Add((queue, [.. batch]));
            gate = _gates.TryGetValue(queue, out var source) ? source.Task : Task.CompletedTask;
        }

        _firstBatchStarted.TrySetResult();
        await gate;
    }

    private TaskCompletionSource Hold(string queue)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            _gates[queue] = gate;
        }

        return gate;
    }

    private void Open(string queue, TaskCompletionSource gate)
    {
        lock (_lock)
        {
            _gates.Remove(queue);
        }

        gate.SetResult();
    }

    private List<(string Queue, List<int> Items)> Batches()
    {
        lock (_lock)
        {
            return [.. _batches];
        }
    }

    private async Task<List<(string Queue, List<int> Items)>> BatchesHoldingAsync(int items)
    {
        await Eventually.TrueAsync(() => Batches().Sum(b => b.Items.Count) >= items, s_bound, $"the batches hold {items} items", s_poll);
        return Batches();
    }

    private static string Show((string Queue, List<int> Items) batch) => string.Join(' ', batch.Items);

    [Fact]
    public async Task Items_posted_while_a_batch_is_in_Redis_go_together_in_the_next_one()
    {
        var gate = Hold("q");
        _lanes.Post("q", 1);
        await _firstBatchStarted.Task.WaitAsync(s_bound);

        _lanes.Post("q", 2);
        _lanes.Post("q", 3);
        _lanes.Post("q", 4);
        Open("q", gate);

        var batches = await BatchesHoldingAsync(4);
        Assert.Equal(["1", "2 3 4"], batches.Select(Show));
    }

    [Fact]
    public async Task A_batch_takes_whole_items_up_to_the_weight_limit_and_the_rest_waits_for_the_next()
    {
        var gate = Hold("q");
        _lanes.Post("q", 1);
        await _firstBatchStarted.Task.WaitAsync(s_bound);

        foreach (var item in new[] { 4, 5, 2, 3 })
        {
            _lanes.Post("q", item);
        }

        Open("q", gate);

        var batches = await BatchesHoldingAsync(5);
        Assert.Equal(["1", "4 5", "2 3"], batches.Select(Show));
    }

    [Fact]
    public async Task An_item_heavier_than_the_limit_goes_alone()
    {
        var gate = Hold("q");
        _lanes.Post("q", 1);
        await _firstBatchStarted.Task.WaitAsync(s_bound);

        _lanes.Post("q", 2);
        _lanes.Post("q", 25);
        _lanes.Post("q", 3);
        Open("q", gate);

        var batches = await BatchesHoldingAsync(4);
        Assert.Equal(["1", "2", "25", "3"], batches.Select(Show));
    }

    [Fact]
    public async Task A_queue_whose_batch_is_stuck_does_not_hold_up_another_queue()
    {
        Hold("slow");
        _lanes.Post("slow", 1);
        await _firstBatchStarted.Task.WaitAsync(s_bound);

        _lanes.Post("fast", 2);

        var batches = await BatchesHoldingAsync(2);
        Assert.Contains("fast: 2", batches.Select(b => $"{b.Queue}: {Show(b)}"));
    }

    [Fact]
    public async Task Disposing_finishes_the_items_already_posted()
    {
        _lanes.Post("q", 1);
        _lanes.Post("q", 2);

        await _lanes.DisposeAsync().AsTask().WaitAsync(s_bound);

        Assert.Equal(3, Batches().Sum(b => b.Items.Sum()));
    }
}
