extern alias worker;

using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using TaskQueue.Tests.Infrastructure;
using worker::TaskQueue.Protocol.V1;
using worker::TaskQueue.Worker.Runtime;

namespace TaskQueue.Tests.Unit.Worker;

public sealed class BrokerConnectionTests : IDisposable
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
    public async Task A_broken_connection_is_followed_by_a_new_one_once_the_backoff_has_passed()
    {
        var running = _parts.Get<BrokerConnection>().RunAsync(_stopping.Token);
        var first = await _parts.Broker.NextCallAsync();
        first.Responses.End(new RpcException(new Status(StatusCode.Unavailable, "broker gone")));

        // The delay runs on the worker's TimeProvider: nothing reconnects until fake time passes.
        var next = _parts.Broker.NextCallAsync();
        await Eventually.AdvancingUntilAsync(_parts.Time, ReconnectBackoff.Maximum, () => next.IsCompleted, Bound, "the worker reconnects");

        var second = await next;
        Assert.Equal(WorkerMessage.KindOneofCase.Hello, (await second.Requests.NextAsync()).KindCase);
        Assert.False(running.IsCompleted);
        await _stopping.CancelAsync();
        await running.WaitAsync(Bound);
    }

    [Fact]
    public async Task Once_the_worker_has_closed_its_stream_it_does_not_reconnect()
    {
        var running = _parts.Get<BrokerConnection>().RunAsync(_stopping.Token);
        var call = await _parts.Broker.NextCallAsync();
        await call.Requests.NextAsync();
        call.Responses.Send(new BrokerMessage
        {
            Welcome = new Welcome { BrokerId = "fake-broker", LeaseDuration = Duration.FromTimeSpan(TimeSpan.FromSeconds(30)) },
        });
        var close = new CloseItem(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        _parts.Outbound.Enqueue(close);

        await call.Requests.Completed.WaitAsync(Bound);
        call.Responses.End();

        await running.WaitAsync(Bound);
        Assert.True(close.Flushed.Task.IsCompletedSuccessfully);
    }
}
