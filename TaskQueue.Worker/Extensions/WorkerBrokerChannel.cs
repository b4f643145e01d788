using Grpc.Net.Client;
using TaskQueue.Protocol;

namespace TaskQueue.Worker.Extensions;

/// <summary>
/// Where the worker's broker is and how its channel reaches it: the connection string an AppHost hands over,
/// the HTTP/2 handler of the long-lived Connect stream, and for several brokers a static resolver with
/// round-robin over the brokers that answer.
/// </summary>
internal static class WorkerBrokerChannel
{
    /// <summary>The channel's address: the broker itself, or the static resolver's target for several.</summary>
    public static Uri Address(IReadOnlyList<Uri> brokers) => BrokerBalancing.Address(brokers);

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
    /// HTTP/2 connections beat the per-connection stream limit; an https:// broker's certificate is checked as
    /// <paramref name="tls"/> says (the system store without it).
    /// </summary>
    public static SocketsHttpHandler CreateHandler(WorkerTlsOptions? tls = null)
    {
        var handler = ChannelSettings.CreateHandler();
        if (tls is not null)
        {
            BrokerTls.Apply(handler, tls.CaCertificatePath, tls.CaCertificate, tls.ClientCertificatePath, tls.ClientKeyPath, tls.ClientCertificate);
        }

        // Pings even while no call is active, and the connection is never retired for idleness: the worker's
        // stream is meant to stay open.
        handler.KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always;
        handler.PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan;
        return handler;
    }

    /// <summary>What the stream sends as <c>Authorization: Bearer</c>: the token provider, else the API key; null for neither.</summary>
    public static Func<CancellationToken, ValueTask<string>>? Credentials(WorkerOptions options) =>
        BearerTokenHandler.Source(options.ApiKey, options.AccessTokenProvider);

    /// <summary>For several brokers: the shared round-robin set-up (<see cref="BrokerBalancing"/>) with the worker's handler and credentials.</summary>
    public static void Configure(
        GrpcChannelOptions options, IReadOnlyList<Uri> brokers, IServiceProvider services,
        Func<CancellationToken, ValueTask<string>>? bearer, WorkerTlsOptions? tls = null) =>
        BrokerBalancing.Configure(options, brokers, services, () => CreateHandler(tls), bearer);

    /// <summary>The client's TLS section, the worker's fallback for each of its own "Worker:Tls" settings: "TaskQueue:Tls".</summary>
    public const string SharedTlsSection = "TaskQueue:" + BrokerTls.SectionName;

    /// <summary>The file paths of a TLS section into <paramref name="tls"/> (keys that are not set leave it as it is).</summary>
    public static void ReadTls(WorkerTlsOptions tls, IConfiguration section)
    {
        var (ca, certificate, key) = BrokerTls.ReadPaths(section);
        tls.CaCertificatePath = ca ?? tls.CaCertificatePath;
        tls.ClientCertificatePath = certificate ?? tls.ClientCertificatePath;
        tls.ClientKeyPath = key ?? tls.ClientKeyPath;
    }

    /// <summary>What is wrong with the TLS settings of <paramref name="options"/>; empty when they are usable.</summary>
    public static IReadOnlyList<string> CheckTls(WorkerOptions options) => options.Tls is not { } tls
        ? ["Worker:Tls must not be null."]
        : BrokerTls.Check(
            WorkerOptions.SectionName, tls.CaCertificatePath, tls.ClientCertificatePath, tls.ClientKeyPath,
            tls.CaCertificate is not null || tls.ClientCertificate is not null, options.BrokerAddresses);
}
