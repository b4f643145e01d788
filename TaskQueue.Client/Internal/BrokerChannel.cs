using Grpc.Net.Client;
using Microsoft.Extensions.Configuration;
using TaskQueue.Protocol;

namespace TaskQueue.Client.Internal;

/// <summary>
/// The gRPC channel settings of a client, in one place for <see cref="TaskQueueClient.CreateChannel(Uri)"/>
/// and <c>AddTaskQueueClient</c>: the HTTP/2 handler (with the TLS settings of <see cref="BrokerTls"/>), a capped
/// reconnect backoff, and for several brokers a static resolver with round-robin load balancing
/// (<see cref="BrokerBalancing"/>, shared with the worker).
/// </summary>
internal static class BrokerChannel
{
    /// <summary>At most this long between reconnect attempts (the default backs off up to 2 minutes).</summary>
    private static readonly TimeSpan s_maxReconnectBackoff = TimeSpan.FromSeconds(5);

    public static Uri Address(IReadOnlyList<Uri> brokers) => BrokerBalancing.Address(brokers);

    /// <summary>
    /// Keep-alive pings notice a dead connection within seconds; several HTTP/2 connections beat the stream limit;
    /// an https:// broker's certificate is checked as <paramref name="tls"/> says (the system store without it).
    /// </summary>
    public static SocketsHttpHandler CreateHandler(TaskQueueClientTlsOptions? tls = null)
    {
        var handler = ChannelSettings.CreateHandler();
        if (tls is not null)
        {
            BrokerTls.Apply(handler, tls.CaCertificatePath, tls.CaCertificate, tls.ClientCertificatePath, tls.ClientKeyPath, tls.ClientCertificate);
        }

        return handler;
    }

    /// <summary>What the channel sends as <c>Authorization: Bearer</c>: the token provider, else the API key; null for neither.</summary>
    public static Func<CancellationToken, ValueTask<string>>? Credentials(TaskQueueClientOptions options) =>
        BearerTokenHandler.Source(options.ApiKey, options.AccessTokenProvider);

    public static GrpcChannel Create(
        IReadOnlyList<Uri> brokers, Func<CancellationToken, ValueTask<string>>? bearer = null, TaskQueueClientTlsOptions? tls = null)
    {
        var options = new GrpcChannelOptions
        {
            MaxReconnectBackoff = s_maxReconnectBackoff,
            HttpHandler = BearerTokenHandler.Wrap(CreateHandler(tls), bearer),
            DisposeHttpClient = true,
        };
        Configure(options, brokers, services: null, bearer, tls);
        return GrpcChannel.ForAddress(Address(brokers), options);
    }

    /// <summary>For several brokers: the shared round-robin set-up, with this client's handler, credentials and reconnect cap.</summary>
    public static void Configure(
        GrpcChannelOptions options, IReadOnlyList<Uri> brokers, IServiceProvider? services,
        Func<CancellationToken, ValueTask<string>>? bearer = null, TaskQueueClientTlsOptions? tls = null)
    {
        if (brokers.Count < 2)
        {
            return;
        }

        BrokerBalancing.Configure(options, brokers, services, () => CreateHandler(tls), bearer);
        options.MaxReconnectBackoff = s_maxReconnectBackoff;
    }

    /// <summary>The "TaskQueue:Tls" file paths into <paramref name="tls"/> (keys that are not set leave it as it is).</summary>
    public static void ReadTls(TaskQueueClientTlsOptions tls, IConfiguration section)
    {
        var (ca, certificate, key) = BrokerTls.ReadPaths(section);
        tls.CaCertificatePath = ca ?? tls.CaCertificatePath;
        tls.ClientCertificatePath = certificate ?? tls.ClientCertificatePath;
        tls.ClientKeyPath = key ?? tls.ClientKeyPath;
    }

    /// <summary>What is wrong with the TLS settings of <paramref name="options"/>; empty when they are usable.</summary>
    public static IReadOnlyList<string> CheckTls(TaskQueueClientOptions options) => options.Tls is not { } tls
        ? ["TaskQueue:Tls must not be null."]
        : BrokerTls.Check(
            TaskQueueClientOptions.SectionName, tls.CaCertificatePath, tls.ClientCertificatePath, tls.ClientKeyPath,
            tls.CaCertificate is not null || tls.ClientCertificate is not null, options.BrokerAddresses);
}
