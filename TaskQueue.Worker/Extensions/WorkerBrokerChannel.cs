using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using TaskQueue.Protocol;

namespace TaskQueue.Worker.Extensions;

/// <summary>
/// Where the worker's broker is and how its channel reaches it: the connection string an AppHost hands over,
/// the HTTP/2 handler of the long-lived Connect stream, and for several brokers a static resolver with
/// round-robin over the brokers that answer.
/// </summary>
internal static class WorkerBrokerChannel
{
    /// <summary>The target of a channel over several brokers; its static resolver knows their addresses.</summary>
    private static readonly Uri s_brokerList = new("static:///taskqueue-brokers");

    public static Uri Address(IReadOnlyList<Uri> brokers) => brokers.Count > 1 ? s_brokerList : brokers[0];

    /// <summary>The addresses in <c>ConnectionStrings:taskqueue</c> ("http://a:1,http://b:2"); empty when it is not set.</summary>
    public static IReadOnlyList<Uri> FromConnectionString(string? connectionString) =>
        [.. (connectionString ?? "")
            .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(address => Uri.TryCreate(address, UriKind.Absolute, out var uri)
                ? uri
                : throw new InvalidOperationException(
                    $"ConnectionStrings:{WorkerOptions.ConnectionStringName} must list absolute http:// or https:// addresses separated by commas; '{address}' is not one."))];

    /// <summary>
    /// Pings notice a dead broker (or a silent network drop) within seconds, not at the next write; several
    /// HTTP/2 connections beat the per-connection stream limit.
    /// </summary>
    public static SocketsHttpHandler CreateHandler()
    {
        var handler = ChannelSettings.CreateHandler();
        // Pings even while no call is active, and the connection is never retired for idleness: the worker's
        // stream is meant to stay open.
        handler.KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always;
        handler.PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan;
        return handler;
    }

    /// <summary>For several brokers: the resolver that lists them, round-robin over them, a handler of its own, credentials for their scheme.</summary>
    public static void Configure(GrpcChannelOptions options, IReadOnlyList<Uri> brokers, IServiceProvider services)
    {
        if (brokers.Count < 2)
        {
            return;
        }

        var addresses = brokers.Select(broker => new BalancerAddress(broker.Host, broker.Port)).ToArray();
        var channelServices = new ServiceCollection();
        channelServices.AddSingleton<ResolverFactory>(new StaticResolverFactory(_ => addresses));
        if (services.GetService<ILoggerFactory>() is { } loggerFactory)
        {
            channelServices.AddSingleton(loggerFactory);
        }

        // A provider of the channel's own: the application's may register a resolver of its own.
        options.ServiceProvider = channelServices.BuildServiceProvider();
        // Load balancing needs the SocketsHttpHandler itself, not the client factory's chain of delegating handlers.
        options.HttpClient = null;
        options.HttpHandler = CreateHandler();
        options.Credentials = brokers[0].Scheme == Uri.UriSchemeHttps ? ChannelCredentials.SecureSsl : ChannelCredentials.Insecure;
        options.ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new RoundRobinConfig() } };
    }
}
