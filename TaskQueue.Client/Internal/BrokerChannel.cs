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

    /// <summary>What the channel sends as <c>Authorization: Bearer</c>: the token provider, else the API key; null for neither.</summary>
    public static Func<CancellationToken, ValueTask<string>>? Credentials(TaskQueueClientOptions options) =>
        BearerTokenHandler.Source(options.ApiKey, options.AccessTokenProvider);

    public static GrpcChannel Create(IReadOnlyList<Uri> brokers, Func<CancellationToken, ValueTask<string>>? bearer = null)
    {
        var options = new GrpcChannelOptions
        {
            MaxReconnectBackoff = s_maxReconnectBackoff,
            HttpHandler = BearerTokenHandler.Wrap(CreateHandler(), bearer),
            DisposeHttpClient = true,
        };
        Configure(options, brokers, services: null, bearer);
        return GrpcChannel.ForAddress(Address(brokers), options);
    }

    /// <summary>For several brokers: the shared round-robin set-up, with this client's handler, credentials and reconnect cap.</summary>
    public static void Configure(
        GrpcChannelOptions options, IReadOnlyList<Uri> brokers, IServiceProvider? services, Func<CancellationToken, ValueTask<string>>? bearer = null)
    {
        if (brokers.Count < 2)
        {
            return;
        }

        BrokerBalancing.Configure(options, brokers, services, CreateHandler, bearer);
        options.MaxReconnectBackoff = s_maxReconnectBackoff;
    }
}
