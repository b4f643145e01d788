using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker.Limits;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Storage;

/// <summary>A queue's flow control in the scripts: pause and resume, the queue's concurrency limit, its token bucket, the release wake-up.</summary>
public class FlowControlTests : StoreTests
{
    private static RedisFlowStore Flow(StoreHarness h, int maxGroupOverrides = 1000) =>
        new(h.Redis.Connection, h.Clock, Options.Create(new LimitOptions { MaxGroupOverrides = maxGroupOverrides }));

    [Fact]
    public async Task A_paused_queue_stores_submits_and_leases_nothing_until_it_resumes()
    {
        var h = await NewStoreAsync();
        var flow = Flow(h);
        Assert.True(await flow.PauseAsync(h.Queue));
        Assert.False(await flow.PauseAsync(h.Queue)); // paused already

        var submitted = await EnqueueManyAsync(h, 4);
        var held = await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease);

        Assert.All(submitted, r => Assert.Equal(EnqueueOutcome.Created, r.Outcome));
        Assert.Empty(held.Tasks);
        Assert.Equal(ClaimHold.UntilReleased, held.Hold);
        Assert.Equal(4, (await h.Store.GetCountsAsync(h.Queue)).Ready);
        // A pause waits for a resume, not for a lease's end: no lease end is asked to publish.
        Assert.False(await h.Db.HashExistsAsync(RedisKeys.Flow(h.Queue), FlowFields.Held));

        Assert.True(await flow.ResumeAsync(h.Queue));
        Assert.False(await flow.ResumeAsync(h.Queue));
        var resumed = await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease);

        Assert.Equal(submitted.Select(r => r.Id), resumed.Tasks.Select(t => t.Id));
        Assert.Equal(ClaimHold.None, resumed.Hold);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_pause_lets_running_tasks_finish()
    {
        var h = await NewStoreAsync();
        await EnqueueManyAsync(h, 2);
        var running = await ClaimOneAsync(h);

        await Flow(h).PauseAsync(h.Queue);

        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, running));
        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease)).Tasks);
        Assert.Equal((1, 0), ((await h.Store.GetCountsAsync(h.Queue)).Ready, (await h.Store.GetCountsAsync(h.Queue)).Leased));
    }

    [Fact]
    public async Task Resuming_a_queue_wakes_every_brokers_dispatchers()
    {
        var h = await NewStoreAsync();
        var flow = Flow(h);
        await flow.PauseAsync(h.Queue);
        var announced = await ListenAsync(h);
        try
        {
            await flow.ResumeAsync(h.Queue);

            await Eventually.TrueAsync(() => announced.Contains(h.Queue), TimeSpan.FromSeconds(5), "the resume's announcement", Poll);
        }
        finally
        {
            await announced.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_concurrency_limit_holds_exactly_under_concurrent_claims()
    {
        var h = await NewStoreAsync();
        await Flow(h).SetLimitsAsync(h.Queue, new FlowLimits(Concurrency: 3));
        await EnqueueManyAsync(h, 60);

        var claims = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => h.Store.ClaimAsync(h.Queue, "w" + i, 2, Lease)));

        Assert.Equal(3, claims.Sum(c => c.Tasks.Count));
        Assert.Equal(3, (await h.Store.GetCountsAsync(h.Queue)).Leased);
        // Every claim that got less than it asked for was held until a lease ends, and the flag asks for the wake-up.
        Assert.All(claims.Where(c => c.Tasks.Count < 2), c => Assert.Equal(ClaimHold.UntilReleased, c.Hold));
        Assert.Equal("1", (string?)await h.Db.HashGetAsync(RedisKeys.Flow(h.Queue), FlowFields.Held));

        var first = claims.First(c => c.Tasks.Count > 0).Tasks[0];
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, first));
        var next = await Task.WhenAll(Enumerable.Range(0, 5).Select(i => h.Store.ClaimAsync(h.Queue, "w" + i, 5, Lease)));

        Assert.Equal(1, next.Sum(c => c.Tasks.Count));
        Assert.Equal(3, (await h.Store.GetCountsAsync(h.Queue)).Leased);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_claim_within_the_concurrency_limit_is_not_held()
    {
        var h = await NewStoreAsync();
        await Flow(h).SetLimitsAsync(h.Queue, new FlowLimits(Concurrency: 10));
        await EnqueueManyAsync(h, 2);

        var claim = await h.Store.ClaimAsync(h.Queue, "w1", 5, Lease);

        Assert.Equal(2, claim.Tasks.Count);
        Assert.Equal(ClaimHold.None, claim.Hold);
        Assert.False(await h.Db.HashExistsAsync(RedisKeys.Flow(h.Queue), FlowFields.Held));
    }

    public static TheoryData<string> LeaseEnds => ["complete", "fail", "release", "reap", "renew timeout"];

    [Theory]
    [MemberData(nameof(LeaseEnds))]
    public async Task Every_end_of_a_lease_wakes_the_claims_a_concurrency_limit_held(string end)
    {
        var h = await NewStoreAsync();
        await Flow(h).SetLimitsAsync(h.Queue, new FlowLimits(Concurrency: 1));
        await EnqueueManyAsync(h, 3, i => h.Task(payload: "task " + i) with { ExecutionTimeout = TimeSpan.FromSeconds(1) });
        var running = await ClaimOneAsync(h, TimeSpan.FromSeconds(5));
        Assert.Equal(ClaimHold.UntilReleased, (await h.Store.ClaimAsync(h.Queue, "w2", 1, Lease)).Hold);
        var announced = await ListenAsync(h);
        try
        {
            var lease = new LeaseRef(running.Id, running.LeaseToken);
            switch (end)
            {
                case "complete":
                    Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, running));
                    break;
                case "fail":
                    Assert.Equal(TransitionResult.Retrying, await FailAsync(h, running));
                    break;
                case "release":
                    Assert.Equal([TransitionResult.Ok], await h.Store.ReleaseAsync(h.Queue, [lease]));
                    break;
                case "reap":
                    h.Advance(TimeSpan.FromSeconds(6));
                    Assert.Single(await h.Store.ReapAsync(h.Queue, 10));
                    break;
                default:
                    h.Advance(TimeSpan.FromSeconds(3));
                    Assert.Equal([TransitionResult.TimedOut], (await h.Store.RenewAsync(h.Queue, [lease], Lease, TimeSpan.FromSeconds(1))).Results);
                    break;
            }

            await Eventually.TrueAsync(() => announced.Contains(h.Queue), TimeSpan.FromSeconds(5), $"the wake-up after a {end}", Poll);
            Assert.False(await h.Db.HashExistsAsync(RedisKeys.Flow(h.Queue), FlowFields.Held)); // cleared: one wake-up per hold
            Assert.Single((await h.Store.ClaimAsync(h.Queue, "w2", 1, Lease)).Tasks);
        }
        finally
        {
            await announced.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_token_bucket_lets_a_burst_through_then_the_rate_and_says_when_it_admits_more()
    {
        var h = await NewStoreAsync();
        await Flow(h).SetLimitsAsync(h.Queue, new FlowLimits(Rate: 1, Burst: 5));
        await EnqueueManyAsync(h, 40);

        var burst = await h.Store.ClaimAsync(h.Queue, "w1", 20, Lease);

        Assert.Equal(5, burst.Tasks.Count);
        // 1 per second: the next token in at most a second (less the real time that passed since the claim).
        Assert.True(burst.Hold.Held);
        Assert.InRange(burst.Hold.RetryAfter!.Value.TotalMilliseconds, 1, 1000);

        h.Advance(TimeSpan.FromMilliseconds(3500)); // 3.5 tokens (and a little real time)
        var refilled = await h.Store.ClaimAsync(h.Queue, "w1", 20, Lease);
        Assert.Equal(3, refilled.Tasks.Count);
        Assert.True(refilled.Hold.Held);

        h.Advance(TimeSpan.FromSeconds(60)); // refilled to the burst, not past it
        Assert.Equal(5, (await h.Store.ClaimAsync(h.Queue, "w1", 20, Lease)).Tasks.Count);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task An_empty_bucket_leases_nothing_and_asks_to_be_claimed_again_when_the_next_token_is_in()
    {
        var h = await NewStoreAsync();
        await Flow(h).SetLimitsAsync(h.Queue, new FlowLimits(Rate: 0.5, Burst: 1)); // a token every 2 s
        await EnqueueManyAsync(h, 3);
        Assert.Single((await h.Store.ClaimAsync(h.Queue, "w1", 5, Lease)).Tasks);

        var empty = await h.Store.ClaimAsync(h.Queue, "w1", 5, Lease);

        Assert.Empty(empty.Tasks);
        Assert.InRange(empty.Hold.RetryAfter!.Value.TotalMilliseconds, 1_500, 2_000);
        Assert.False(await h.Db.HashExistsAsync(RedisKeys.Flow(h.Queue), FlowFields.Held)); // a rate waits for time, not a lease end
    }

    [Fact]
    public async Task A_bucket_without_a_burst_holds_one_seconds_worth()
    {
        var h = await NewStoreAsync();
        await Flow(h).SetLimitsAsync(h.Queue, new FlowLimits(Rate: 4));
        await EnqueueManyAsync(h, 10);

        Assert.Equal(4, (await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease)).Tasks.Count);
    }

    [Fact]
    public async Task Concurrency_and_rate_together_lease_the_smaller_of_the_two()
    {
        var h = await NewStoreAsync();
        await Flow(h).SetLimitsAsync(h.Queue, new FlowLimits(Concurrency: 2, Rate: 100, Burst: 10));
        await EnqueueManyAsync(h, 10);

        var claim = await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease);

        Assert.Equal(2, claim.Tasks.Count);
        Assert.Equal(ClaimHold.UntilReleased, claim.Hold);
        var state = await Flow(h).GetAsync(h.Queue);
        Assert.Equal(2, state.Leased);
        Assert.InRange(state.Tokens!.Value, 8, 10); // only what was leased was spent
    }

    [Fact]
    public async Task A_queue_without_flow_settings_is_gated_by_nothing_and_stores_no_flow_key()
    {
        var h = await NewStoreAsync();
        await EnqueueManyAsync(h, 3);

        var claim = await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease);

        Assert.Equal((3, ClaimHold.None), (claim.Tasks.Count, claim.Hold));
        Assert.DoesNotContain(await h.QueueKeysAsync(), k => k.Contains(":flow", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_flow_read_shows_settings_leases_tokens_and_overrides()
    {
        var h = await NewStoreAsync();
        var flow = Flow(h);
        await flow.SetLimitsAsync(h.Queue, new FlowLimits(3, 2.5, 4, 2, 1.5, 3));
        await flow.SetGroupLimitsAsync(h.Queue, "tenant-a", new GroupFlowLimits(Concurrency: 1));
        await flow.SetGroupLimitsAsync(h.Queue, "", new GroupFlowLimits(Rate: 0.25, Burst: 2));
        await flow.PauseAsync(h.Queue);

        var state = await flow.GetAsync(h.Queue);

        Assert.True(state.Paused);
        Assert.Equal(new FlowLimits(3, 2.5, 4, 2, 1.5, 3), state.Limits);
        Assert.Equal(new GroupFlowLimits(Concurrency: 1), state.GroupOverrides["tenant-a"]);
        Assert.Equal(new GroupFlowLimits(Rate: 0.25, Burst: 2), state.GroupOverrides[""]);
        Assert.Equal("1 - -", (string?)await h.Db.HashGetAsync(RedisKeys.FlowGroups(h.Queue), "tenant-a"));
        Assert.Equal((0L, 4.0), (state.Leased, state.Tokens));

        await flow.SetLimitsAsync(h.Queue, new FlowLimits(GroupConcurrency: 2)); // replaces all: the others cleared
        Assert.True(await flow.ClearGroupLimitsAsync(h.Queue, "tenant-a"));
        Assert.False(await flow.ClearGroupLimitsAsync(h.Queue, "tenant-a"));
        var cleared = await flow.GetAsync(h.Queue);
        Assert.Equal(new FlowLimits(GroupConcurrency: 2), cleared.Limits);
        Assert.Null(cleared.Tokens);
        Assert.Equal([""], cleared.GroupOverrides.Keys);
    }

    [Fact]
    public async Task Clearing_the_rate_drops_the_bucket()
    {
        var h = await NewStoreAsync();
        var flow = Flow(h);
        await flow.SetLimitsAsync(h.Queue, new FlowLimits(Rate: 1, Burst: 2));
        await EnqueueManyAsync(h, 3);
        await h.Store.ClaimAsync(h.Queue, "w1", 5, Lease);
        Assert.True(await h.Db.KeyExistsAsync(RedisKeys.FlowBucket(h.Queue)));
        Assert.True(await h.Db.KeyTimeToLiveAsync(RedisKeys.FlowBucket(h.Queue)) is { } ttl && ttl > TimeSpan.Zero);

        await flow.SetLimitsAsync(h.Queue, FlowLimits.None);

        Assert.False(await h.Db.KeyExistsAsync(RedisKeys.FlowBucket(h.Queue)));
        Assert.Single((await h.Store.ClaimAsync(h.Queue, "w1", 5, Lease)).Tasks);
    }

    [Fact]
    public async Task A_queue_holds_a_bounded_number_of_group_overrides()
    {
        var h = await NewStoreAsync();
        var flow = Flow(h, maxGroupOverrides: 2);
        Assert.True(await flow.SetGroupLimitsAsync(h.Queue, "a", new GroupFlowLimits(1)));
        Assert.True(await flow.SetGroupLimitsAsync(h.Queue, "b", new GroupFlowLimits(2)));

        await Assert.ThrowsAsync<LimitExceededException>(() => flow.SetGroupLimitsAsync(h.Queue, "c", new GroupFlowLimits(3)));
        Assert.False(await flow.SetGroupLimitsAsync(h.Queue, "b", new GroupFlowLimits(5))); // replacing one is not one more
        await flow.ClearGroupLimitsAsync(h.Queue, "a");
        Assert.True(await flow.SetGroupLimitsAsync(h.Queue, "c", new GroupFlowLimits(3)));

        Assert.Equal(["b", "c"], (await flow.GetAsync(h.Queue)).GroupOverrides.Keys.Order(StringComparer.Ordinal));
    }

    public static TheoryData<FlowLimits> BadLimits =>
    [
        new(Concurrency: -1),
        new(Concurrency: FlowValidation.MaxConcurrency + 1),
        new(Rate: double.NaN),
        new(Rate: double.PositiveInfinity),
        new(Rate: -2),
        new(Rate: 0.0001),
        new(Rate: 2e6),
        new(Rate: 1, Burst: -1),
        new(Burst: 5),
        new(GroupConcurrency: -3),
        new(GroupRate: double.NaN),
        new(GroupBurst: 2),
    ];

    [Theory]
    [MemberData(nameof(BadLimits))]
    public async Task Limits_out_of_bounds_are_refused_and_change_nothing(FlowLimits limits)
    {
        var h = await NewStoreAsync();
        var flow = Flow(h);
        await flow.SetLimitsAsync(h.Queue, new FlowLimits(Concurrency: 7));

        await Assert.ThrowsAnyAsync<ArgumentException>(() => flow.SetLimitsAsync(h.Queue, limits));

        Assert.Equal(new FlowLimits(Concurrency: 7), (await flow.GetAsync(h.Queue)).Limits);
    }

    [Theory]
    [InlineData("\u0001bad")]
    [InlineData("x")]
    public async Task A_group_name_is_at_most_128_printable_characters(string group)
    {
        var h = await NewStoreAsync();
        var name = group == "x" ? new string('x', 129) : group;

        await Assert.ThrowsAnyAsync<ArgumentException>(() => Flow(h).SetGroupLimitsAsync(h.Queue, name, new GroupFlowLimits(1)));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Flow(h).SetGroupLimitsAsync(h.Queue, "g", new GroupFlowLimits(Rate: double.NaN)));
    }

    [Fact]
    public async Task Pause_and_limits_outlive_the_queue_being_forgotten_when_idle()
    {
        var h = await NewStoreAsync(o => o.QueueIdleExpiry = TimeSpan.FromSeconds(1));
        var flow = Flow(h);
        await flow.PauseAsync(h.Queue);
        await flow.SetLimitsAsync(h.Queue, new FlowLimits(Concurrency: 2));
        await h.Store.RegisterQueuesAsync([h.Queue]);

        await h.Store.PromoteAsync(h.Queue); // the idle clock starts
        h.Advance(TimeSpan.FromSeconds(2));
        await h.Store.PromoteAsync(h.Queue); // forgotten
        Assert.DoesNotContain(h.Queue, await h.Store.GetQueuesAsync());

        var state = await flow.GetAsync(h.Queue);
        Assert.True(state.Paused);
        Assert.Equal(2, state.Limits.Concurrency);
    }

    /// <summary>Collects the queues announced on the ready channel.</summary>
    private static async Task<Announcements> ListenAsync(StoreHarness h)
    {
        var announcements = new Announcements(h.Redis.Connection.GetSubscriber());
        await announcements.StartAsync();
        return announcements;
    }

    private sealed class Announcements(ISubscriber subscriber) : IAsyncDisposable
    {
        private static readonly RedisChannel s_channel = RedisChannel.Literal(RedisKeys.ReadyChannel);
        private readonly List<string> _queues = [];

        public Task StartAsync() => subscriber.SubscribeAsync(s_channel, (_, message) =>
        {
            lock (_queues)
            {
                _queues.Add(message!);
            }
        });

        public bool Contains(string queue)
        {
            lock (_queues)
            {
                return _queues.Contains(queue);
            }
        }

        public async ValueTask DisposeAsync() => await subscriber.UnsubscribeAsync(s_channel);
    }
}
