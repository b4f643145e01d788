extern alias worker;

using TaskQueue.Tests.Fakes;
using worker::TaskQueue.Protocol.V1;
using worker::TaskQueue.Worker.Runtime;
using static TaskQueue.Tests.Unit.Worker.WorkerParts;

namespace TaskQueue.Tests.Unit.Worker;

public sealed class OutboundWriterTests : IDisposable
{
    private readonly WorkerParts _parts = new();
    private readonly FakeRequestStream _stream = new();
    private readonly CancellationTokenSource _stopWriting = new();
    private readonly CancellationTokenSource _abort = new();

    public void Dispose()
    {
        _stopWriting.Dispose();
        _abort.Dispose();
        _parts.Dispose();
    }

    [Fact]
    public async Task Outcomes_queued_since_the_last_write_go_in_one_message_and_other_items_keep_their_place()
    {
        Enqueue("a", "b", "c");
        _parts.Outbound.RequestHeartbeat();
        Enqueue("d");

        var written = await WriteAsync(batches: true, expected: 3);

        Assert.Equal(["a", "b", "c"], written[0].Outcomes.Released.Select(released => released.TaskId));
        Assert.Equal(WorkerMessage.KindOneofCase.Heartbeat, written[1].KindCase);
        Assert.Equal(["d"], written[2].Outcomes.Released.Select(released => released.TaskId));
    }

    [Fact]
    public async Task A_broker_that_takes_no_batches_gets_one_message_per_outcome()
    {
        Enqueue("a", "b", "c");

        var written = await WriteAsync(batches: false, expected: 3);

        Assert.Equal(["a", "b", "c"], written.Select(message => message.Released.TaskId));
    }

    [Fact]
    public async Task One_message_holds_at_most_the_batch_limit()
    {
        Enqueue([.. Enumerable.Range(0, OutboundWriter.MaxOutcomesPerMessage + 88).Select(i => $"t{i}")]);

        var written = await WriteAsync(batches: true, expected: 2);

        Assert.Equal(OutboundWriter.MaxOutcomesPerMessage, written[0].Outcomes.Released.Count);
        Assert.Equal(88, written[1].Outcomes.Released.Count);
        Assert.Equal($"t{OutboundWriter.MaxOutcomesPerMessage}", written[1].Outcomes.Released[0].TaskId);
    }

    [Fact]
    public async Task An_outcome_whose_lease_was_lost_is_left_out_of_the_batch()
    {
        var lost = Execution("lost");
        lost.Discard();
        _parts.Outbound.Enqueue(Outcome(lost));
        Enqueue("kept");

        var written = await WriteAsync(batches: true, expected: 1);

        Assert.Equal(["kept"], Assert.Single(written).Outcomes.Released.Select(released => released.TaskId));
    }

    [Fact]
    public async Task A_written_outcome_frees_its_lease_and_is_kept_for_a_resend()
    {
        var execution = Execution("a");
        _parts.Executor.Reattach(execution);
        _parts.Outbound.Enqueue(Outcome(execution));

        await WriteAsync(batches: true, expected: 1);

        Assert.Empty(_parts.Executor.SnapshotLeases());
        Assert.Equal([execution], _parts.Resend.ConnectionEnded(readByBroker: false));
    }

    [Fact]
    public async Task Outcomes_a_broken_connection_may_have_lost_are_written_before_anything_queued()
    {
        var earlier = Execution("earlier");
        _parts.Resend.Track(Outcome(earlier));
        _parts.Resend.ConnectionEnded(readByBroker: false);
        Enqueue("later");

        var written = await WriteAsync(batches: true, expected: 2);

        Assert.Equal("earlier", written[0].Released.TaskId);
        Assert.Equal(["later"], written[1].Outcomes.Released.Select(released => released.TaskId));
    }

    [Fact]
    public async Task A_resend_that_fails_keeps_the_outcomes_it_did_not_write()
    {
        var outcomes = new[] { Outcome(Execution("a")), Outcome(Execution("b")) };
        _parts.Resend.ReturnUnsent(outcomes);
        _stream.FailWrites = new IOException("connection reset");
        var session = new SessionState(_stopWriting);

        await Assert.ThrowsAsync<IOException>(() => _parts.Get<OutboundWriter>().RunAsync(_stream, session, _stopWriting.Token, _abort.Token));

        // "a" was being written when it broke: the connection's record offers it again, after "b".
        _parts.Resend.ConnectionEnded(readByBroker: false);
        Assert.Equal(["b", "a"], _parts.Resend.TakeUnsent().Select(outcome => outcome.Execution!.TaskId));
    }

    [Fact]
    public async Task The_close_marker_completes_the_stream_and_marks_the_worker_closed()
    {
        Enqueue("a");
        var close = new CloseItem(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        _parts.Outbound.Enqueue(close);
        var session = new SessionState(_stopWriting) { Batches = true };

        await _parts.Get<OutboundWriter>().RunAsync(_stream, session, _stopWriting.Token, _abort.Token).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(close.Flushed.Task.IsCompletedSuccessfully);
        Assert.True(_stream.Completed.IsCompletedSuccessfully);
        Assert.True(session.WorkerClosed);
        Assert.Single(_stream.Written);
    }

    [Fact]
    public async Task Draining_is_sent_once_per_connection()
    {
        _parts.Outbound.Enqueue(DrainingItem.Instance);
        _parts.Outbound.Enqueue(DrainingItem.Instance);
        Enqueue("a");

        var written = await WriteAsync(batches: true, expected: 2);

        Assert.Equal(WorkerMessage.KindOneofCase.Draining, written[0].KindCase);
        Assert.Equal(WorkerMessage.KindOneofCase.Outcomes, written[1].KindCase);
    }

    private void Enqueue(params string[] taskIds)
    {
        foreach (var taskId in taskIds)
        {
            _parts.Outbound.Enqueue(Outcome(Execution(taskId)));
        }
    }

    /// <summary>Runs the writer over everything queued until <paramref name="expected"/> messages are out, then stops it as a broker drain does.</summary>
    private async Task<IReadOnlyList<WorkerMessage>> WriteAsync(bool batches, int expected)
    {
        var session = new SessionState(_stopWriting) { Batches = batches };
        var writing = _parts.Get<OutboundWriter>().RunAsync(_stream, session, _stopWriting.Token, _abort.Token);
        await _stream.WaitForAsync(expected);
        await _stopWriting.CancelAsync();
        await writing.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(expected, _stream.Written.Count);
        Assert.True(_stream.Completed.IsCompletedSuccessfully);
        Assert.False(session.WorkerClosed);
        return _stream.Written;
    }
}
