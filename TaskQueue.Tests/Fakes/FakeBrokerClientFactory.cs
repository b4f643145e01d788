extern alias worker;

using System.Threading.Channels;
using Grpc.Core;
using Grpc.Net.ClientFactory;
using worker::TaskQueue.Protocol.V1;

namespace TaskQueue.Tests.Fakes;

/// <summary>One fake WorkerService.Connect call: the two streams a test drives.</summary>
internal sealed class FakeBrokerCall
{
    public FakeRequestStream Requests { get; } = new();

    public FakeResponseStream Responses { get; } = new();

    /// <summary>The CallOptions the worker connected with.</summary>
    public CallOptions Options { get; init; }

    /// <summary>The worker disposed the call.</summary>
    public bool Disposed { get; set; }
}

/// <summary>
/// Stands in for the gRPC client factory: every Connect the worker makes is a <see cref="FakeBrokerCall"/> the test
/// takes with <see cref="NextCallAsync"/>. No socket, no broker.
/// </summary>
internal sealed class FakeBrokerClientFactory : GrpcClientFactory
{
    private readonly Channel<FakeBrokerCall> _calls = Channel.CreateUnbounded<FakeBrokerCall>();

    public override TClient CreateClient<TClient>(string name) =>
        typeof(TClient) == typeof(worker::TaskQueue.Protocol.V1.WorkerService.WorkerServiceClient)
            ? (TClient)(object)new Client(this)
            : throw new InvalidOperationException($"No fake client for {typeof(TClient)}.");

    /// <summary>The worker's next connection (bounded wait).</summary>
    public async Task<FakeBrokerCall> NextCallAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await _calls.Reader.ReadAsync(timeout.Token);
    }

    private FakeBrokerCall Open(CallOptions options)
    {
        var call = new FakeBrokerCall { Options = options };
        _calls.Writer.TryWrite(call);
        return call;
    }

    private sealed class Client(FakeBrokerClientFactory factory) : worker::TaskQueue.Protocol.V1.WorkerService.WorkerServiceClient
    {
        public override AsyncDuplexStreamingCall<WorkerMessage, BrokerMessage> Connect(CallOptions options)
        {
            var call = factory.Open(options);
            return new AsyncDuplexStreamingCall<WorkerMessage, BrokerMessage>(
                call.Requests,
                call.Responses,
                Task.FromResult(new Metadata()),
                () => Status.DefaultSuccess,
                () => [],
                () => call.Disposed = true);
        }

        public override AsyncDuplexStreamingCall<WorkerMessage, BrokerMessage> Connect(Metadata? headers = null, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
            Connect(new CallOptions(headers, deadline, cancellationToken));
    }
}
