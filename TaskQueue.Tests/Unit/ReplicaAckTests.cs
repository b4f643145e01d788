using Grpc.Core;
using StackExchange.Redis;
using TaskQueue.Broker.Dispatch;
using TaskQueue.Broker.Grpc;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Unit;

/// <summary>How the broker reads WAIT and WAITAOF, chooses between them, and what a shortfall answers.</summary>
public sealed class ReplicaAckTests
{
    // INFO server / INFO persistence as Redis writes them (CRLF, a section header, more fields than read).
    private static string Info(string version, int aof) =>
        $"# Server\r\nredis_version:{version}\r\nredis_mode:standalone\r\nos:Linux\r\n\r\n# Persistence\r\nloading:0\r\naof_enabled:{aof}\r\naof_rewrite_in_progress:0\r\n";

    [Theory]
    [InlineData("7.0.15", 1, ReplicaAckCommand.Wait)]
    [InlineData("7.0.15", 0, ReplicaAckCommand.Wait)]
    [InlineData("7.2.0", 1, ReplicaAckCommand.WaitAof)]
    [InlineData("7.2.4", 0, ReplicaAckCommand.Wait)]
    [InlineData("8.0.2", 1, ReplicaAckCommand.WaitAof)]
    [InlineData("6.2.14", 1, ReplicaAckCommand.Wait)]
    public void WAITAOF_is_used_from_Redis_7_2_on_and_only_with_an_append_only_file(string version, int aof, ReplicaAckCommand expected) =>
        Assert.Equal(expected, ReplicaAckReplies.Choose(Info(version, aof)));

    [Theory]
    [InlineData("")]
    [InlineData("# Server\r\nredis_version:not-a-version\r\naof_enabled:1\r\n")]
    public void An_INFO_without_a_readable_version_falls_back_to_WAIT(string info) =>
        Assert.Equal(ReplicaAckCommand.Wait, ReplicaAckReplies.Choose(info));

    [Theory]
    [InlineData(2, 2, true)]
    [InlineData(3, 2, true)]
    [InlineData(1, 2, false)]
    [InlineData(0, 1, false)]
    public void WAITs_reply_counts_the_replicas_that_acknowledged(long reply, int wanted, bool enough)
    {
        var acks = ReplicaAckReplies.FromWait(RedisResult.Create((RedisValue)reply), wanted);

        Assert.Equal(((int)reply, wanted, enough), (acks.Acknowledged, acks.Wanted, acks.Enough));
    }

    [Theory]
    [InlineData(1, 1, 1, true)]
    [InlineData(0, 1, 1, false)] // the primary's own AOF does not hold it yet
    [InlineData(1, 0, 1, false)]
    [InlineData(1, 2, 2, true)]
    public void WAITAOFs_reply_needs_the_primarys_fsync_and_the_replicas(long local, long replicas, int wanted, bool enough)
    {
        var reply = RedisResult.Create([RedisResult.Create((RedisValue)local), RedisResult.Create((RedisValue)replicas)]);

        var acks = ReplicaAckReplies.FromWaitAof(reply, wanted);

        Assert.Equal(((int)replicas, local >= 1, enough), (acks.Acknowledged, acks.PrimaryFsynced, acks.Enough));
    }

    [Fact]
    public void A_wait_interrupted_by_a_connection_failure_is_never_enough() =>
        Assert.False(new ReplicaAcks(1, 1, Interrupted: true).Enough);

    [Fact]
    public void Nothing_wanted_is_always_enough() => Assert.True(new ReplicaAcks(0, 0, PrimaryFsynced: false, Interrupted: true).Enough);

    [Fact]
    public void A_submit_short_of_replicas_answers_unavailable_with_the_stored_task_ids_and_the_count()
    {
        var stored = new[] { new EnqueueResult(new TaskId("q", "a1"), EnqueueOutcome.Created), new EnqueueResult(new TaskId("q", "b2"), EnqueueOutcome.Created) };
        var error = new ReplicaAckException("submit", new ReplicaAcks(2, 1), TimeSpan.FromMilliseconds(500), stored);

        var mapped = ErrorMappingInterceptor.Map(error)!;

        Assert.Equal(StatusCode.Unavailable, mapped.StatusCode);
        Assert.Contains("Stored on the primary, acknowledged by 1 of 2 replicas within 500 ms", mapped.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("The tasks exist", mapped.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("1/2", mapped.Trailers.GetValue(ErrorMappingInterceptor.ReplicaAcksTrailer));
        Assert.Equal($"{stored[0].Id},{stored[1].Id}", mapped.Trailers.GetValue(ErrorMappingInterceptor.StoredTaskIdsTrailer));
    }

    [Fact]
    public void One_callers_part_of_a_short_batch_names_only_its_own_tasks()
    {
        var stored = new[] { new EnqueueResult(new TaskId("q", "a1"), EnqueueOutcome.Created), new EnqueueResult(new TaskId("q", "b2"), EnqueueOutcome.Created) };
        var error = new ReplicaAckException("submit", new ReplicaAcks(1, 0), TimeSpan.FromMilliseconds(500), stored);

        var part = error.For([stored[1]]);

        Assert.Equal([stored[1]], part.Stored);
        Assert.Equal(error.Acks, part.Acks);
    }

    [Fact]
    public void A_report_whose_wait_a_failover_interrupted_is_tried_again_and_one_short_of_replicas_is_not()
    {
        Assert.True(SettleRetry.IsTransient(new ReplicaAckException("complete", new ReplicaAcks(1, 0, Interrupted: true), TimeSpan.FromSeconds(1))));
        Assert.False(SettleRetry.IsTransient(new ReplicaAckException("complete", new ReplicaAcks(1, 0), TimeSpan.FromSeconds(1))));
    }
}
