using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace TaskQueue.Protocol;

/// <summary>
/// A channel over several brokers, as the client and the worker both build it: a static resolver that lists them
/// and round-robin over those that answer. One source file, compiled into the client and the worker libraries
/// (protos/Shared/Channels); each passes the HTTP/2 handler it wants.
/// </summary>
internal static class BrokerBalancing
{
    /// <summary>The target of a channel over several brokers; its static resolver knows their addresses.</summary>
    private static readonly Uri s_brokerList = new("static:///taskqueue-brokers");

    /// <summary>The channel's address: the broker itself, or the static resolver's target for several.</summary>
    public static Uri Address(IReadOnlyList<Uri> brokers) => brokers.Count > 1 ? s_brokerList : brokers[0];

    /// <summary>
    /// For several brokers: the resolver that lists them, round-robin over them, a handler of the channel's own and
    /// credentials for their scheme; nothing for one broker. <paramref name="bearer"/>, when set, is sent on every call
    /// (<see cref="BearerTokenHandler"/> around the channel's handler).
    /// </summary>
    public static void Configure(
        GrpcChannelOptions options, IReadOnlyList<Uri> brokers, IServiceProvider? services, Func<SocketsHttpHandler> createHandler,
        Func<CancellationToken, ValueTask<string>>? bearer = null)
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

        // A provider of the channel's own: the application's may register a static resolver of its own.
        options.ServiceProvider = channelServices.BuildServiceProvider();
        // Load balancing needs the SocketsHttpHandler itself, not the client factory's chain of delegating handlers
        // (its logging and service discovery have nothing to do for fixed addresses anyway).
        options.HttpClient = null;
        options.HttpHandler = BearerTokenHandler.Wrap(createHandler(), bearer);
        options.Credentials = brokers[0].Scheme == Uri.UriSchemeHttps ? ChannelCredentials.SecureSsl : ChannelCredentials.Insecure;
        options.ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new RoundRobinConfig() } };
    }
}
