using CsCheck;
using Xunit.Abstractions;

namespace TaskQueue.Tests.Model;

/// <summary>
/// The store against the model: random sequences (shrunk to a minimal failing one by CsCheck), plus a few
/// fixed sequences that make sure the rarer paths (dead-letter trimming, expiry, cancel while leased) run
/// every time. After every step the model and Redis must agree exactly (see <see cref="ModelRun"/>).
/// </summary>
public sealed class StoreModelTests(ITestOutputHelper output)
{
    private static readonly EnqueueItem s_plain = new(Priority: 0, DelayUnits: 0, MaxAttempts: 0, Key: -1, ExpiryUnits: 0, Timeout: false);

    [Fact]
    public async Task Random_operation_sequences_keep_the_store_in_step_with_the_model()
    {
        await ModelGen.Sequence.SampleAsync(ops => ModelRun.RunAsync(ops), writeLine: output.WriteLine, iter: 50, print: ModelGen.Print);

        foreach (var (what, count) in ModelRun.Coverage.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            output.WriteLine($"{count,6}  {what}");
        }
    }

    [Fact]
    public async Task Random_operation_sequences_keep_the_store_in_step_with_the_model_on_a_Redis_Cluster() =>
        // Each sequence has a queue of its own: the sequences fall on every shard of the cluster.
        await ModelGen.Sequence.SampleAsync(ops => ModelRun.RunAsync(ops, onCluster: true), writeLine: output.WriteLine, iter: 20, print: ModelGen.Print);

    [Fact]
    public Task Dead_letters_are_trimmed_oldest_first_replayed_and_purged_as_the_model_says() =>
        ModelRun.RunAsync(
        [
            new EnqueueOp([.. Enumerable.Range(0, 4).Select(n => s_plain with { MaxAttempts = 1, Key = n })]),
            new ClaimOp(Max: 2, Worker: 0, LeaseUnits: 3),
            new FailOp([0], Retryable: true),
            new AdvanceOp(2),
            new FailOp([0], Retryable: false),
            new ClaimOp(Max: 2, Worker: 1, LeaseUnits: 1),
            new FailOp([0, 1], Retryable: false),
            new ReplayOp([0, 1, 2, 3]),
            new ClaimOp(Max: 4, Worker: 2, LeaseUnits: 1),
            new AdvanceOp(4),
            new ReapOp(),
            new PurgeOp([3]),
            new EnqueueOp([s_plain with { Key = 0 }, s_plain with { Key = 3 }, s_plain with { Key = 2 }]),
            new ClaimOp(Max: 2, Worker: 0, LeaseUnits: 1),
            new FailOp([0, 1], Retryable: false),
            new ReplayOp([]),
            new ClaimOp(Max: 2, Worker: 0, LeaseUnits: 5),
            new FailOp([0], Retryable: false),
            new PurgeOp([]),
            new FailOp([0], Retryable: false),
            new AdvanceOp(60),
            new PromoteOp(),
            new ReplayOp([]),
        ],
        output.WriteLine);

    [Fact]
    public Task Expiry_only_drops_tasks_that_never_started() =>
        ModelRun.RunAsync(
        [
            new EnqueueOp(
            [
                s_plain with { ExpiryUnits = 5 },
                s_plain with { Priority = 5, ExpiryUnits = 5 },
                s_plain with { DelayUnits = 3, ExpiryUnits = 5 },
                s_plain with { DelayUnits = 3, ExpiryUnits = 9 },
                s_plain with { Priority = 9, ExpiryUnits = 5 },
            ]),
            new ClaimOp(Max: 1, Worker: 0, LeaseUnits: 1),
            new FailOp([0], Retryable: true),
            new ClaimOp(Max: 1, Worker: 0, LeaseUnits: 1),
            new ReleaseOp([0]),
            new AdvanceOp(6),
            new PromoteOp(),
            new ClaimOp(Max: 4, Worker: 0, LeaseUnits: 1),
            new AdvanceOp(10),
            new ReapOp(),
            new AdvanceOp(20),
            new ClaimOp(Max: 4, Worker: 1, LeaseUnits: 5),
        ],
        output.WriteLine);

    [Fact]
    public Task Unique_keys_hold_until_final_and_debounced_submits_fold_into_the_waiting_task() =>
        ModelRun.RunAsync(
        [
            new EnqueueOp([s_plain with { Unique = 0, MaxAttempts = 1 }, s_plain with { Unique = 0, Key = 0 }, s_plain with { Unique = 1, DelayUnits = 3 }]),
            new EnqueueOp([s_plain with { Debounce = 0, WindowUnits = 3 }, s_plain with { Debounce = 0, WindowUnits = 1, Priority = 5 }]),
            new ClaimOp(Max: 2, Worker: 0, LeaseUnits: 5),
            new EnqueueOp([s_plain with { Unique = 0 }, s_plain with { Debounce = 0, WindowUnits = 3, ExpiryUnits = 9 }]),
            new FailOp([0], Retryable: false),
            new EnqueueOp([s_plain with { Unique = 0, Key = 1 }]),
            new ReplayOp([]),
            new CancelOp(5),
            new ReplayOp([0]),
            new AdvanceOp(4),
            new PromoteOp(),
            new EnqueueOp([s_plain with { Debounce = 0, WindowUnits = 1 }]),
            new AdvanceOp(2),
            new ClaimOp(Max: 4, Worker: 1, LeaseUnits: 3),
            new EnqueueOp([s_plain with { Debounce = 0, WindowUnits = 1 }, s_plain with { Unique = 1 }]),
            new CompleteOp([0, 1, 2]),
            new AdvanceOp(6),
            new ReapOp(),
            new EnqueueOp([s_plain with { Unique = 0 }, s_plain with { Unique = 1 }, s_plain with { Debounce = 0, WindowUnits = 3 }]),
        ],
        output.WriteLine);

    [Fact]
    public Task A_cancel_while_leased_waits_for_the_holder_and_refuses_nothing_else() =>
        ModelRun.RunAsync(
        [
            new EnqueueOp([s_plain, s_plain with { Priority = 9 }, s_plain with { Priority = 9, DelayUnits = 1 }, s_plain, s_plain]),
            new ClaimOp(Max: 4, Worker: 0, LeaseUnits: 3),
            new CancelOp(0),
            new CancelOp(1),
            new RenewOp([0, 1], LeaseUnits: 5),
            new CancelOp(2),
            new CancelOp(3),
            new CompleteOp([0]),
            new FailOp([0], Retryable: true),
            new StaleOp(StaleKind.Complete, 1, Forged: false),
            new StaleOp(StaleKind.Renew, 1, Forged: true),
            new CancelOp(1),
            new CancelOp(4),
            new ReleaseOp([1]),
            new ClaimOp(Max: 1, Worker: 1, LeaseUnits: 1),
            new AdvanceOp(4),
            new CancelOp(3),
            new CompleteOp([0]),
            new ReapOp(),
            new CancelOp(3),
            new CancelOp(0),
        ],
        output.WriteLine);
}
