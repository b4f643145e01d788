extern alias worker;

using Microsoft.Extensions.Time.Testing;
using worker::TaskQueue.Protocol.V1;
using worker::TaskQueue.Worker.Runtime;
using static TaskQueue.Tests.Unit.Worker.WorkerParts;

namespace TaskQueue.Tests.Unit.Worker;

public sealed class ResendBufferTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void Outcomes_written_on_a_broken_connection_are_resent_first_on_the_next_one_and_their_leases_held_again()
    {
        var buffer = new ResendBuffer(_time);
        var (a, b) = (Execution("a"), Execution("b"));
        var (outcomeA, outcomeB) = (Outcome(a), Outcome(b));
        buffer.Track(outcomeA);
        buffer.Track(outcomeB);

        var held = buffer.ConnectionEnded(readByBroker: false);

        Assert.Equal([a, b], held);
        Assert.Equal([outcomeA, outcomeB], buffer.TakeUnsent());
        Assert.Empty(buffer.TakeUnsent());
    }

    [Fact]
    public void Nothing_is_resent_after_the_broker_closed_the_stream_cleanly()
    {
        var buffer = new ResendBuffer(_time);
        buffer.Track(Outcome(Execution("a")));

        Assert.Empty(buffer.ConnectionEnded(readByBroker: true));
        Assert.Empty(buffer.TakeUnsent());
        // Forgotten, not carried into the next connection's record either.
        Assert.Empty(buffer.ConnectionEnded(readByBroker: false));
    }

    [Fact]
    public void Outcomes_written_longer_ago_than_the_window_are_dropped()
    {
        var buffer = new ResendBuffer(_time);
        var old = Execution("old");
        var recent = Execution("recent");
        buffer.Track(Outcome(old));
        _time.Advance(ResendBuffer.Window - TimeSpan.FromSeconds(1));
        buffer.Track(Outcome(recent));
        _time.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal([recent], buffer.ConnectionEnded(readByBroker: false));
    }

    [Fact]
    public void An_outcome_written_exactly_at_the_window_edge_is_still_resent()
    {
        var buffer = new ResendBuffer(_time);
        var execution = Execution("edge");
        buffer.Track(Outcome(execution));
        _time.Advance(ResendBuffer.Window);

        Assert.Equal([execution], buffer.ConnectionEnded(readByBroker: false));
    }

    [Fact]
    public void An_outcome_whose_lease_was_lost_meanwhile_is_dropped()
    {
        var buffer = new ResendBuffer(_time);
        var lost = Execution("lost");
        var kept = Execution("kept");
        buffer.Track(Outcome(lost));
        buffer.Track(Outcome(kept));
        lost.Discard();

        Assert.Equal([kept], buffer.ConnectionEnded(readByBroker: false));
        Assert.Equal(["kept"], buffer.TakeUnsent().Select(outcome => outcome.Execution!.TaskId));
    }

    [Fact]
    public void An_outcome_without_an_execution_holds_no_lease_and_is_never_resent()
    {
        var buffer = new ResendBuffer(_time);
        buffer.Track(new OutcomeItem(OutcomeMapper.Released("refused", "lease"), Execution: null));

        Assert.Empty(buffer.ConnectionEnded(readByBroker: false));
        Assert.Empty(buffer.TakeUnsent());
    }

    [Fact]
    public void Past_the_capacity_the_oldest_outcomes_are_dropped()
    {
        var buffer = new ResendBuffer(_time);
        var executions = Enumerable.Range(0, ResendBuffer.Capacity + 2).Select(i => Execution($"t{i}")).ToArray();
        foreach (var execution in executions)
        {
            buffer.Track(Outcome(execution));
        }

        var held = buffer.ConnectionEnded(readByBroker: false);

        Assert.Equal(ResendBuffer.Capacity, held.Count);
        Assert.Equal("t2", held[0].TaskId);
        Assert.Equal(executions[^1], held[^1]);
    }

    [Fact]
    public void Outcomes_a_broken_resend_did_not_write_wait_for_the_next_connection_after_the_recent_ones()
    {
        var buffer = new ResendBuffer(_time);
        var unwritten = Outcome(Execution("unwritten"));
        var written = Outcome(Execution("written"));
        buffer.ReturnUnsent([unwritten]);
        buffer.Track(written);

        buffer.ConnectionEnded(readByBroker: false);

        Assert.Equal([unwritten, written], buffer.TakeUnsent());
    }

    [Fact]
    public void Resent_outcomes_are_the_same_messages_the_first_connection_wrote()
    {
        var buffer = new ResendBuffer(_time);
        var outcome = Outcome(Execution("a"));
        buffer.Track(outcome);
        buffer.ConnectionEnded(readByBroker: false);

        var resent = Assert.Single(buffer.TakeUnsent());

        Assert.Equal(WorkerMessage.KindOneofCase.Released, resent.Message.KindCase);
        Assert.Equal("lease-a", resent.Message.Released.LeaseToken);
    }
}
