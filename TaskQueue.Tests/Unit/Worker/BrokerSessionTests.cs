extern alias worker;

using System.Runtime.CompilerServices;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using TaskQueue.Tests.Fakes;
using TaskQueue.Tests.Infrastructure;
using worker::TaskQueue.Protocol.V1;
using worker::TaskQueue.Worker.Runtime;
using static TaskQueue.Tests.Unit.Worker.WorkerParts;

namespace TaskQueue.Tests.Unit.Worker;

public sealed class BrokerSessionTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private readonly WorkerParts _parts = new();
    private readonly CancellationTokenSource _stopping = new();

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
        _parts.Dispose();
    }

    [Fact]
    public async Task Hello_names_the_worker_its_queues_its_task_types_and_the_leases_it_still_holds()
    {
        _parts.Executor.Reattach(Execution("held"));

        var (call, running) = await ConnectAsync();
        var hello = (await call.Requests.NextAsync()).Hello;
        call.Responses.End();
        await running.WaitAsync(Bound);

        Assert.Equal(WorkerId, hello.WorkerId);
        Assert.Equal(3, hello.Concurrency);
        Assert.Equal(["default", "reports"], hello.Queues);
        Assert.Equal(["bytes", "count", "cpu", "crash", "echo", "fail", "noop", "sleep", "spin"], hello.TaskTypes);
        Assert.Equal(["held"], hello.Running.Select(task => task.TaskId));
        Assert.Equal("lease-held", hello.Running[0].LeaseToken);
        Assert.True(hello.Batches);
    }

    [Fact]
    public async Task A_stream_that_ends_before_the_welcome_is_a_failed_attempt()
    {
        var (call, running) = await ConnectAsync();
        await call.Requests.NextAsync();
        call.Responses.End();

        var end = await running.WaitAsync(Bound);

        Assert.False(end.Welcomed);
        Assert.False(end.WorkerClosed);
        Assert.IsType<IOException>(end.Error);
    }

    [Fact]
    public async Task A_broker_that_never_welcomes_is_given_up_on_after_the_welcome_timeout()
    {
        var (call, running) = await ConnectAsync();
        await call.Requests.NextAsync();

        // The timeout's timer starts just after Hello is written: advance until it has fired.
        await Eventually.AdvancingUntilAsync(_parts.Time, BrokerSession.WelcomeTimeout, () => running.IsCompleted, Bound, "the session gives up");

        var end = await running.WaitAsync(Bound);
        Assert.False(end.Welcomed);
        Assert.IsType<TimeoutException>(end.Error);
    }

    [Fact]
    public async Task Tasks_the_welcome_names_as_lost_are_stopped_and_no_longer_held()
    {
        var lost = Execution("lost");
        var kept = Execution("kept");
        _parts.Executor.Reattach(lost);
        _parts.Executor.Reattach(kept);

        var (call, running) = await ConnectAsync();
        await call.Requests.NextAsync();
        call.Responses.Send(Welcome(lost: "lost"));
        call.Responses.End();
        var end = await running.WaitAsync(Bound);

        Assert.True(end.Welcomed);
        Assert.Equal("stream closed by the broker", end.Reason);
        Assert.True(lost.IsDiscarded);
        Assert.True(lost.Token.IsCancellationRequested);
        Assert.False(kept.IsDiscarded);
        Assert.Equal(["kept"], _parts.Executor.SnapshotLeases().Select(task => task.TaskId));
    }

    [Fact]
    public async Task After_the_welcome_heartbeats_list_the_held_leases_at_the_welcome_cadence()
    {
        _parts.Executor.Reattach(Execution("held"));
        var (call, running) = await ConnectAsync();
        await call.Requests.NextAsync();
        call.Responses.Send(Welcome(heartbeat: TimeSpan.FromSeconds(2)));

        var heartbeat = await NextHeartbeatAsync(call, TimeSpan.FromSeconds(2));

        Assert.Equal(["held"], heartbeat.Running.Select(task => task.TaskId));
        call.Responses.End();
        await running.WaitAsync(Bound);
    }

    [Fact]
    public async Task A_draining_broker_gets_the_stream_completed_and_the_session_ends_cleanly()
    {
        var (call, running) = await ConnectAsync();
        await call.Requests.NextAsync();
        call.Responses.Send(Welcome());
        call.Responses.Send(new BrokerMessage { Drain = new Drain() });

        await call.Requests.Completed.WaitAsync(Bound);
        call.Responses.End();
        var end = await running.WaitAsync(Bound);

        Assert.True(end.Welcomed);
        Assert.False(end.WorkerClosed);
        Assert.Null(end.Error);
        Assert.Equal("broker draining", end.Reason);
    }

    [Fact]
    public async Task After_a_broken_connection_the_next_hello_lists_the_reported_task_and_its_outcome_is_sent_again()
    {
        var execution = Execution("reported");
        _parts.Executor.Reattach(execution);
        var (first, running) = await ConnectAsync();
        await first.Requests.NextAsync();
        first.Responses.Send(Welcome());
        _parts.Outbound.Enqueue(Outcome(execution));
        Assert.Equal("reported", (await first.Requests.NextAsync()).Released.TaskId);
        // The writer lets go of the lease just after the write returns.
        await UntilAsync(() => _parts.Executor.SnapshotLeases().Count == 0);

        first.Responses.End(new RpcException(new Status(StatusCode.Unavailable, "broker gone")));
        var end = await running.WaitAsync(Bound);
        Assert.IsType<RpcException>(end.Error);

        var (second, again) = await ConnectAsync();
        var hello = (await second.Requests.NextAsync()).Hello;
        Assert.Equal(["reported"], hello.Running.Select(task => task.TaskId));
        second.Responses.Send(Welcome());
        Assert.Equal("reported", (await second.Requests.NextAsync()).Released.TaskId);
        second.Responses.End();
        await again.WaitAsync(Bound);
    }

    [Theory]
    [InlineData(2_000, 30_000, 2_000)]
    [InlineData(0, 30_000, 10_000)]
    [InlineData(0, 0, 10_000)]
    [InlineData(1, 0, 10)]
    public void The_heartbeat_interval_is_the_welcome_s_else_a_third_of_the_lease_else_ten_seconds(int heartbeatMs, int leaseMs, int expectedMs)
    {
        var welcome = new Welcome
        {
            HeartbeatInterval = heartbeatMs > 0 ? Duration.FromTimeSpan(TimeSpan.FromMilliseconds(heartbeatMs)) : null,
            LeaseDuration = leaseMs > 0 ? Duration.FromTimeSpan(TimeSpan.FromMilliseconds(leaseMs)) : null,
        };

        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), HeartbeatLoop.IntervalFor(welcome));
    }

    private static BrokerMessage Welcome(string? lost = null, TimeSpan? heartbeat = null) => new()
    {
        Welcome = new Welcome
        {
            BrokerId = "fake-broker",
            LeaseDuration = Duration.FromTimeSpan(TimeSpan.FromSeconds(30)),
            HeartbeatInterval = Duration.FromTimeSpan(heartbeat ?? TimeSpan.FromSeconds(10)),
            LostTaskIds = { lost is null ? [] : [lost] },
            Batches = false,
        },
    };

    private async Task<(FakeBrokerCall Call, Task<SessionEnd> Running)> ConnectAsync()
    {
        var running = _parts.Get<BrokerSession>().RunAsync(_stopping.Token);
        var call = await _parts.Broker.NextCallAsync();
        return (call, running);
    }

    private static Task UntilAsync(Func<bool> condition, [CallerArgumentExpression(nameof(condition))] string what = "") =>
        Eventually.TrueAsync(condition, Bound, what, TimeSpan.FromMilliseconds(5));

    /// <summary>Advances fake time one interval at a time until the writer sends a heartbeat (the timer starts just after the welcome).</summary>
    private async Task<Heartbeat> NextHeartbeatAsync(FakeBrokerCall call, TimeSpan interval)
    {
        WorkerMessage? LastHeartbeat() => call.Requests.Written.LastOrDefault(message => message.KindCase == WorkerMessage.KindOneofCase.Heartbeat);

        await Eventually.AdvancingUntilAsync(_parts.Time, interval, () => LastHeartbeat() is not null, Bound, "the writer sends a heartbeat");
        return LastHeartbeat()!.Heartbeat;
    }
}
