extern alias worker;

using System.Threading.Channels;
using Grpc.Core;
using worker::TaskQueue.Protocol.V1;

namespace TaskQueue.Tests.Fakes;

/// <summary>The broker's side of a fake Connect stream: the test sends, the worker reads.</summary>
internal sealed class FakeResponseStream : IAsyncStreamReader<BrokerMessage>
{
    private readonly Channel<BrokerMessage> _messages = Channel.CreateUnbounded<BrokerMessage>();

    public BrokerMessage Current { get; private set; } = new();

    public void Send(BrokerMessage message) => _messages.Writer.TryWrite(message);

    /// <summary>The broker hangs up: the worker reads to the end, then sees the stream end (or <paramref name="error"/>).</summary>
    public void End(Exception? error = null) => _messages.Writer.TryComplete(error);

    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        if (!await _messages.Reader.WaitToReadAsync(cancellationToken) || !_messages.Reader.TryRead(out var message))
        {
            return false;
        }

        Current = message;
        return true;
    }
}
