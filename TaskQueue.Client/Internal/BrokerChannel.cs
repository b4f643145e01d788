using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TaskQueue.Protocol;

namespace TaskQueue.Client.Internal;

/// <summary>
/// The gRPC channel settings of a client, in one place for <see cref="TaskQueueClient.CreateChannel(Uri)"/>
/// and <c>AddTaskQueueClient</c>: the HTTP/2 handler, and for several brokers a static resolver with
/// round-robin load balancing.
/// </summary>
internal static class BrokerChannel
{
    /// <summary>The target of a channel over several brokers; its static resolver knows their addresses.</summary>
    private static readonly Uri s_brokerList = new("static:///taskqueue-brokers");

    /// <summary>At most this long between reconnect attempts (the default backs off up to 2 minutes).</summary>
    private static readonly TimeSpan s_maxReconnectBackoff = TimeSpan.FromSeconds(5);

    public static Uri Address(IReadOnlyList<Uri> brokers) => brokers.Count > 1 ? s_brokerList : brokers[0];

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

    /// <summary>For several brokers: the resolver that lists them, round-robin over them, their own handler, and credentials for their scheme.</summary>
    public static void Configure(GrpcChannelOptions options, IReadOnlyList<Uri> brokers, IServiceProvider? services)
    {
        if (brokers.Count < 2)
        {
            return;
        }

        var addresses = brokers.Select(broker => new BalancerAddress(broker.Host, broker.Port)).ToArray();
        var channelServices = new ServiceCollection();
        channelServices.AddSingleton<ResolverFactory>(new StaticResolverFactory(_ => addresses));
        if (services?.GetService<ILoggerFactory>() is { } loggerFactory)
        {
            channelServices.AddSingleton(loggerFactory);
        }

        // A provider of the channel's own: the application's may have a static resolver of its own.
        options.ServiceProvider = channelServices.BuildServiceProvider();
        // Load balancing needs the SocketsHttpHandler itself, not a chain of delegating handlers (the client
        // factory's logging and service discovery have nothing to do for fixed addresses anyway).
        options.HttpClient = null;
        options.HttpHandler = CreateHandler();
        options.Credentials = brokers[0].Scheme == Uri.UriSchemeHttps ? ChannelCredentials.SecureSsl : ChannelCredentials.Insecure;
        options.ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new RoundRobinConfig() } };
        options.MaxReconnectBackoff = s_maxReconnectBackoff;
    }
}
