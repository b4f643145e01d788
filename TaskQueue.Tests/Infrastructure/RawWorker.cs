using System.Threading.Channels;
using Grpc.Core;
using TaskQueue.Protocol.V1;

namespace TaskQueue.Tests.Infrastructure;

/// <summary>
/// A hand-driven worker on a raw gRPC stream: tests decide exactly what it says (a zombie's late
/// completion, a poison worker that heartbeats but never finishes, forged tokens).
/// </summary>
internal sealed class RawWorker : IAsyncDisposable
{
    private readonly AsyncDuplexStreamingCall<WorkerMessage, BrokerMessage> _call;
    private readonly Channel<BrokerMessage> _inbox = Channel.CreateUnbounded<BrokerMessage>();
    private readonly Task _reader;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<Status> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _heartbeats = Task.CompletedTask;

    private RawWorker(AsyncDuplexStreamingCall<WorkerMessage, BrokerMessage> call)
    {
        _call = call;
        _reader = Task.Run(async () =>
        {
            try
            {
                await foreach (var message in call.ResponseStream.ReadAllAsync())
                {
                    await _inbox.Writer.WriteAsync(message);
                }

                _closed.TrySetResult(Status.DefaultSuccess);
            }
            catch (RpcException ex)
            {
                _closed.TrySetResult(ex.Status);
            }
            finally
            {
                _inbox.Writer.TryComplete();
            }
        });
    }

    public static async Task<(RawWorker Worker, Welcome Welcome)> ConnectAsync(
        Protocol.V1.WorkerService.WorkerServiceClient client, string workerId, string queue, int concurrency, params RunningTask[] running)
    {
        var worker = new RawWorker(client.Connect());
        await worker.SendAsync(new WorkerMessage
        {
            Hello = new Hello { WorkerId = workerId, Queues = { queue }, Concurrency = concurrency, Running = { running } },
        });
        var first = await worker.NextAsync(TimeSpan.FromSeconds(10));
        return (worker, first.Welcome ?? throw new InvalidOperationException($"Expected welcome, got {first}"));
    }

    /// <summary>Connects with a Hello of the test's own (task types, say); returns the worker and the broker's Welcome.</summary>
    public static async Task<(RawWorker Worker, Welcome Welcome)> ConnectAsync(Protocol.V1.WorkerService.WorkerServiceClient client, Hello hello)
    {
        var worker = new RawWorker(client.Connect());
        await worker.SendAsync(new WorkerMessage { Hello = hello });
        var first = await worker.NextAsync(TimeSpan.FromSeconds(10));
        return (worker, first.Welcome ?? throw new InvalidOperationException($"Expected welcome, got {first}"));
    }

    /// <summary>Completes with the status the broker ended the stream with.</summary>
    public Task<Status> Closed => _closed.Task;

    public async Task SendAsync(WorkerMessage message)
    {
        await _writeLock.WaitAsync();
        try
        {
            await _call.RequestStream.WriteAsync(message);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public async Task<BrokerMessage> NextAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        return await _inbox.Reader.ReadAsync(cts.Token);
    }

    /// <summary>The next message of the given kind, skipping others.</summary>
    public async Task<BrokerMessage> NextAsync(BrokerMessage.KindOneofCase kind, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"No {kind} within {timeout}.");
            }

            var message = await NextAsync(left);
            if (message.KindCase == kind)
            {
                return message;
            }
        }
    }

    public Task HeartbeatAsync(params RunningTask[] running) =>
        SendAsync(new WorkerMessage { Heartbeat = new Heartbeat { Running = { running } } });

    /// <summary>Keeps the stream alive with heartbeats listing whatever <paramref name="running"/> returns.</summary>
    public void StartHeartbeats(TimeSpan interval, Func<RunningTask[]> running)
    {
        var token = _stop.Token;
        _heartbeats = Task.Run(async () =>
        {
            try
            {
                while (!token.IsCancellationRequested)
                {
                    await HeartbeatAsync(running());
                    await Task.Delay(interval, token);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or RpcException or InvalidOperationException)
            {
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _heartbeats;
        _stop.Dispose();
        _call.Dispose();
        await _reader;
        _writeLock.Dispose();
    }
}
