extern alias worker;

using System.Threading.Channels;
using Grpc.Core;
using TaskQueue.Tests.Infrastructure;
using worker::TaskQueue.Protocol.V1;

namespace TaskQueue.Tests.Fakes;

/// <summary>The worker's side of a fake Connect stream: records what the worker writes, in order.</summary>
internal sealed class FakeRequestStream : IClientStreamWriter<WorkerMessage>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private readonly Channel<WorkerMessage> _written = Channel.CreateUnbounded<WorkerMessage>();
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _gate = new();
    private readonly List<WorkerMessage> _all = [];

    public WriteOptions? WriteOptions { get; set; }

    /// <summary>Everything written so far.</summary>
    public IReadOnlyList<WorkerMessage> Written
    {
        get
        {
            lock (_gate)
            {
                return [.. _all];
            }
        }
    }

    /// <summary>The worker completed its side of the stream.</summary>
    public Task Completed => _completed.Task;

    /// <summary>Set to make every later write fail, as on a broken connection.</summary>
    public Exception? FailWrites { get; set; }

    public Task WriteAsync(WorkerMessage message) => WriteAsync(message, CancellationToken.None);

    public Task WriteAsync(WorkerMessage message, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (FailWrites is { } error)
        {
            return Task.FromException(error);
        }

        if (_completed.Task.IsCompleted)
        {
            return Task.FromException(new InvalidOperationException("Write after the request stream was completed."));
        }

        lock (_gate)
        {
            _all.Add(message);
        }

        _written.Writer.TryWrite(message);
        return Task.CompletedTask;
    }

    public Task CompleteAsync()
    {
        _completed.TrySetResult();
        return Task.CompletedTask;
    }

    /// <summary>The next message the worker writes (bounded wait).</summary>
    public async Task<WorkerMessage> NextAsync()
    {
        using var timeout = new CancellationTokenSource(Bound);
        return await _written.Reader.ReadAsync(timeout.Token);
    }

    /// <summary>Waits (bounded) until at least <paramref name="count"/> messages have been written.</summary>
    public async Task<IReadOnlyList<WorkerMessage>> WaitForAsync(int count)
    {
        await Eventually.TrueAsync(() => Written.Count >= count, Bound, $"{count} messages were written", TimeSpan.FromMilliseconds(5));
        return Written;
    }
}
