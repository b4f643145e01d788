using System.Collections.Concurrent;
using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using TaskQueue.Protocol.V1;

namespace TaskQueue.Tests.Fakes;

/// <summary>
/// A hand-written stand-in for the broker's WorkerService: it records every worker connection as a
/// <see cref="FakeWorkerSession"/> the test drives message by message.
/// </summary>
internal sealed class FakeBroker : IAsyncDisposable
{
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(10);

    private readonly Channel<FakeWorkerSession> _sessions = Channel.CreateUnbounded<FakeWorkerSession>();
    private readonly ConcurrentQueue<string> _lostTaskIds = new();
    private readonly ConcurrentQueue<FakeWorkerSession> _allSessions = new();
    private GrpcTestServer? _server;

    public Uri Address => _server?.Address ?? throw new InvalidOperationException("Not started.");

    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>While set, Connect fails with Unavailable (a broker that is down).</summary>
    public bool RefuseConnections { get; set; }

    public static async Task<FakeBroker> StartAsync(TimeSpan? heartbeatInterval = null)
    {
        var broker = new FakeBroker { HeartbeatInterval = heartbeatInterval ?? TimeSpan.FromMilliseconds(100) };
        broker._server = await GrpcTestServer.StartAsync<Service>(services => services.AddSingleton(broker));
        return broker;
    }

    /// <summary>The next Welcome reports these tasks as lost (not re-attached).</summary>
    public void LoseOnNextWelcome(params string[] taskIds)
    {
        foreach (var taskId in taskIds)
        {
            _lostTaskIds.Enqueue(taskId);
        }
    }

    public async Task<FakeWorkerSession> NextSessionAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultWait);
        try
        {
            return await _sessions.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("The worker did not connect in time.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var session in _allSessions)
        {
            session.Close();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        foreach (var session in _allSessions)
        {
            session.Dispose();
        }
    }

    private Welcome CreateWelcome()
    {
        var welcome = new Welcome
        {
            BrokerId = "fake-broker",
            LeaseDuration = Duration.FromTimeSpan(TimeSpan.FromSeconds(30)),
            HeartbeatInterval = Duration.FromTimeSpan(HeartbeatInterval),
        };
        while (_lostTaskIds.TryDequeue(out var taskId))
        {
            welcome.LostTaskIds.Add(taskId);
        }

        return welcome;
    }

    private sealed class Service(FakeBroker broker) : Protocol.V1.WorkerService.WorkerServiceBase
    {
        public override async Task Connect(
            IAsyncStreamReader<WorkerMessage> requestStream,
            IServerStreamWriter<BrokerMessage> responseStream,
            ServerCallContext context)
        {
            if (broker.RefuseConnections)
            {
                throw new RpcException(new Status(StatusCode.Unavailable, "fake broker is down"));
            }

            await context.WriteResponseHeadersAsync([]);
            if (!await requestStream.MoveNext(context.CancellationToken)
                || requestStream.Current.KindCase != WorkerMessage.KindOneofCase.Hello)
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument, "Hello first"));
            }

            var session = new FakeWorkerSession(requestStream.Current.Hello, responseStream, context.GetHttpContext());
            broker._allSessions.Enqueue(session);
            await session.SendAsync(new BrokerMessage { Welcome = broker.CreateWelcome() });
            broker._sessions.Writer.TryWrite(session);

            var reading = Task.Run(async () =>
            {
                try
                {
                    while (await requestStream.MoveNext(context.CancellationToken))
                    {
                        session.Record(requestStream.Current);
                    }

                    session.WorkerClosedStream.TrySetResult();
                }
                catch (Exception ex)
                {
                    session.WorkerClosedStream.TrySetException(ex);
                }
            });

            // Ends the call (status OK) when the worker completes its side or the test closes it.
            await Task.WhenAny(reading, session.CloseRequested.Task);
        }
    }
}

/// <summary>One worker connection as the fake broker sees it.</summary>
internal sealed class FakeWorkerSession(Hello hello, IServerStreamWriter<BrokerMessage> responses, HttpContext httpContext) : IDisposable
{
    private readonly Lock _lock = new();
    private readonly List<WorkerMessage> _received = [];
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Hello Hello { get; } = hello;

    /// <summary>Completes when the worker completes its request stream.</summary>
    public TaskCompletionSource WorkerClosedStream { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource CloseRequested { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<WorkerMessage> Received
    {
        get
        {
            lock (_lock)
            {
                return [.. _received];
            }
        }
    }

    public async Task SendAsync(BrokerMessage message)
    {
        await _writeLock.WaitAsync();
        try
        {
            await responses.WriteAsync(message);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Assigns a task; returns its lease token.</summary>
    public async Task<string> AssignAsync(
        string taskId,
        string type,
        string payload = "",
        TimeSpan? executionTimeout = null,
        string traceParent = "",
        string queue = "default",
        int attempt = 1,
        string checkpoint = "")
    {
        var leaseToken = "lease-" + taskId;
        await SendAsync(new BrokerMessage
        {
            Assignment = new TaskAssignment
            {
                TaskId = taskId,
                Queue = queue,
                Type = type,
                Payload = Google.Protobuf.ByteString.CopyFromUtf8(payload),
                LeaseToken = leaseToken,
                Attempt = attempt,
                MaxAttempts = 3,
                ExecutionTimeout = executionTimeout is { } timeout ? Duration.FromTimeSpan(timeout) : null,
                TraceParent = traceParent,
                EnqueuedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
                Checkpoint = Google.Protobuf.ByteString.CopyFromUtf8(checkpoint),
            },
        });
        return leaseToken;
    }

    public Task CancelAsync(string taskId) => SendAsync(new BrokerMessage { Cancel = new CancelTask { TaskId = taskId } });

    public Task LoseLeaseAsync(string taskId) =>
        SendAsync(new BrokerMessage { LeaseLost = new LeaseLost { TaskId = taskId, Reason = "expired" } });

    public Task DrainAsync() => SendAsync(new BrokerMessage { Drain = new Drain() });

    public void Dispose() => _writeLock.Dispose();

    /// <summary>Ends the call normally, as a broker does when it is done with a worker.</summary>
    public void Close() => CloseRequested.TrySetResult();

    /// <summary>Resets the stream, as a crashed broker or a broken connection does.</summary>
    public void Abort() => httpContext.Abort();

    /// <summary>The first message received on this connection (after <paramref name="afterIndex"/>) that matches, waiting for it if needed.</summary>
    public async Task<WorkerMessage> WaitForAsync(
        Func<WorkerMessage, bool> predicate, string description, TimeSpan? timeout = null, int afterIndex = -1)
    {
        using var cts = new CancellationTokenSource(timeout ?? FakeBroker.DefaultWait);
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                var match = _received.Skip(afterIndex + 1).FirstOrDefault(predicate);
                if (match is not null)
                {
                    return match;
                }

                changed = _changed.Task;
            }

            try
            {
                await changed.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No {description} within {timeout ?? FakeBroker.DefaultWait}. Received: {string.Join(" | ", Received)}");
            }
        }
    }

    public Task<WorkerMessage> WaitForOutcomeAsync(string taskId, TimeSpan? timeout = null) =>
        WaitForAsync(message => OutcomeTaskId(message) == taskId, $"outcome of {taskId}", timeout);

    public int IndexOf(WorkerMessage message)
    {
        lock (_lock)
        {
            return _received.IndexOf(message);
        }
    }

    /// <summary>The task an outcome message (completed, failed, released) is about; null for other kinds.</summary>
    public static string? OutcomeTaskId(WorkerMessage message) => message.KindCase switch
    {
        WorkerMessage.KindOneofCase.Completed => message.Completed.TaskId,
        WorkerMessage.KindOneofCase.Failed => message.Failed.TaskId,
        WorkerMessage.KindOneofCase.Released => message.Released.TaskId,
        _ => null,
    };

    internal void Record(WorkerMessage message)
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            _received.Add(message);
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }
}
