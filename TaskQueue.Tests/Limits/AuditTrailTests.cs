using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TaskQueue.Broker.Audit;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Limits;

/// <summary>The audit stream on a Redis of its own (it is one global stream).</summary>
public sealed class AuditTrailTests : IAsyncLifetime
{
    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    private AuditTrail Trail(int maxEntries = 10_000) =>
        new(_redis.Connection, Options.Create(new AuditOptions { MaxEntries = maxEntries }), NullLogger<AuditTrail>.Instance);

    private static AuditRecord Record(int n, string queue = "billing") =>
        new("key:ops", AuditActions.Cancel, queue, $"{queue}:{n:x32}", "ok: cancelled");

    [Fact]
    public async Task Entries_come_back_newest_first_with_identity_outcome_and_redis_time()
    {
        var trail = Trail();
        var before = DateTimeOffset.UtcNow.AddSeconds(-5);
        await trail.RecordAsync(Record(1));
        await trail.RecordAsync(new AuditRecord("jwt:alice", AuditActions.PurgeDeadLetters, "billing", "all", "denied"));

        var page = await trail.ListAsync(_ => true, null, 10, CancellationToken.None);

        Assert.Equal(["jwt:alice", "key:ops"], page.Entries.Select(e => e.Record.Identity));
        Assert.Equal(("dead-letters.purge", "all", "denied"), (page.Entries[0].Record.Action, page.Entries[0].Record.Target, page.Entries[0].Record.Outcome));
        Assert.All(page.Entries, e => Assert.InRange(e.Time, before, DateTimeOffset.UtcNow.AddSeconds(5)));
        Assert.Null(page.NextBefore);
    }

    [Fact]
    public async Task The_cursor_pages_through_every_entry_once_in_order()
    {
        var trail = Trail();
        for (var i = 0; i < 25; i++)
        {
            await trail.RecordAsync(Record(i));
        }

        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await trail.ListAsync(_ => true, cursor, 10, CancellationToken.None);
            seen.AddRange(page.Entries.Select(e => e.Record.Target));
            cursor = page.NextBefore;
            pages++;
        }
        while (cursor is not null && pages < 10);

        Assert.Equal(3, pages);
        Assert.Equal(Enumerable.Range(0, 25).Reverse().Select(i => $"billing:{i:x32}"), seen);
    }

    [Fact]
    public async Task A_filter_reads_past_other_queues_entries()
    {
        var trail = Trail();
        await trail.RecordAsync(Record(1, "billing"));
        for (var i = 0; i < 300; i++)
        {
            await trail.RecordAsync(Record(i, "emails"));
        }

        var page = await trail.ListAsync(queue => queue == "billing", null, 10, CancellationToken.None);

        Assert.Equal(["billing"], page.Entries.Select(e => e.Record.Queue));
        Assert.Null(page.NextBefore);
    }

    [Fact]
    public async Task The_trail_stays_near_its_cap()
    {
        var trail = Trail(maxEntries: 20);
        for (var i = 0; i < 600; i++)
        {
            await trail.RecordAsync(Record(i));
        }

        // MAXLEN ~ trims whole stream nodes (100 entries each by default): never more than the cap and one node.
        var length = await _redis.Connection.GetDatabase().StreamLengthAsync(RedisKeys.Audit);
        Assert.InRange(length, 20, 20 + 100);
        var newest = await trail.ListAsync(_ => true, null, 1, CancellationToken.None);
        Assert.Equal($"billing:{599:x32}", newest.Entries.Single().Record.Target);
    }

    [Fact]
    public async Task A_cursor_that_is_not_an_entry_id_is_bad_input() =>
        await Assert.ThrowsAsync<ArgumentException>(() => Trail().ListAsync(_ => true, "yesterday", 10, CancellationToken.None));

    [Fact]
    public void A_long_list_of_task_ids_is_cut_and_counted()
    {
        var ids = Enumerable.Range(0, 1000).Select(_ => TaskId.New("billing")).ToList();

        var target = AuditTrail.Target(ids, all: false);

        Assert.InRange(target.Length, 1, AuditTrail.MaxTargetLength + 40);
        Assert.EndsWith("(1000 task ids)", target, StringComparison.Ordinal);
        Assert.Equal("all", AuditTrail.Target([], all: true));
    }
}
