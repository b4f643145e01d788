using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.Extensions.Options;
using TaskQueue.Client;

namespace TaskQueue.Dashboard.Brokers;

/// <summary>
/// The one gRPC channel to the brokers, without a credential of its own: each operator's calls go over it with the
/// operator's key (<see cref="ClientFor"/>), so the broker authorises and audits them as that operator.
/// </summary>
public sealed class BrokerChannel(IOptions<TaskQueueClientOptions> options, TimeProvider time) : IDisposable
{
    private readonly TaskQueueClientOptions _options = options.Value;
    private readonly Lazy<GrpcChannel> _channel = new(() => TaskQueueClient.CreateChannel(options.Value.BrokerAddresses));

    /// <summary>A client whose every call carries <paramref name="credential"/> as its bearer token.</summary>
    public TaskQueueClient ClientFor(string credential)
    {
        var header = "Bearer " + credential;
        var invoker = _channel.Value.Intercept(metadata =>
        {
            metadata.Add("authorization", header);
            return metadata;
        });
        return new TaskQueueClient(invoker, _options, time);
    }

    public void Dispose()
    {
        if (_channel.IsValueCreated)
        {
            _channel.Value.Dispose();
        }
    }
}
