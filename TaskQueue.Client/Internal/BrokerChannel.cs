using Grpc.Net.Client;
using TaskQueue.Protocol;

namespace TaskQueue.Client.Internal;

/// <summary>
/// The gRPC channel settings of a client, in one place for <see cref="TaskQueueClient.CreateChannel(Uri)"/>
/// and <c>AddTaskQueueClient</c>: the HTTP/2 handler, a capped reconnect backoff, and for several brokers a
/// static resolver with round-robin load balancing (<see cref="BrokerBalancing"/>, shared with the worker).
/// </summary>
internal static class BrokerChannel
{
    /// <summary>At most this long between reconnect attempts (the default backs off up to 2 minutes).</summary>
    private static readonly TimeSpan s_maxReconnectBackoff = TimeSpan.FromSeconds(5);

    public static Uri Address(IReadOnlyList<Uri> brokers) => BrokerBalancing.Address(brokers);

    /// <summary>Keep-alive pings notice a dead connection within seconds; several HTTP/2 connections beat the stream limit.</summary>
    public static SocketsHttpHandler CreateHandler() => ChannelSettings.CreateHandler();

    public static GrpcChannel Create(IReadOnlyList<Uri> brokers)
    {
        var options = new GrpcChannelOptions
        {
            MaxReconnectBackoff = s_maxReconnectBackoff,
            HttpHandler = CreateHandler(),
            DisposeHttpClient = true,
        };
        Configure(options, brokers, services: null);
        return GrpcChannel.ForAddress(Address(brokers), options);
    }

    /// <summary>For several brokers: the shared round-robin set-up, with this client's handler and reconnect cap.</summary>
    public static void Configure(GrpcChannelOptions options, IReadOnlyList<Uri> brokers, IServiceProvider? services)
    {
        if (brokers.Count < 2)
        {
            return;
        }

        BrokerBalancing.Configure(options, brokers, services, CreateHandler);
        options.MaxReconnectBackoff = s_maxReconnectBackoff;
    }
}
