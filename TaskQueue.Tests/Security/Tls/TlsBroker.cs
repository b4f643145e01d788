using Grpc.Core;
using TaskQueue.Client;
using TaskQueue.Client.Internal;
using TaskQueue.Protocol;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Security.Tls;

/// <summary>
/// A broker process whose two endpoints serve HTTPS only (RequireTls on) from a certificate of the test's own CA,
/// around the shared Redis, with an API key the tests send as a bearer credential. Its own harness because
/// <see cref="TaskQueueCluster"/> speaks plaintext: the clients here build their own channels.
/// </summary>
public sealed class TlsBroker : IAsyncDisposable
{
    private TlsBroker(ChildProcess process, int httpPort, int grpcPort, string apiKey)
    {
        Process = process;
        HttpPort = httpPort;
        GrpcPort = grpcPort;
        ApiKey = apiKey;
    }

    public ChildProcess Process { get; }

    public int HttpPort { get; }

    public int GrpcPort { get; }

    /// <summary>A key with every scope; the broker holds only its hash.</summary>
    public string ApiKey { get; }

    public Uri GrpcAddress => new($"https://127.0.0.1:{GrpcPort}");

    public Uri HttpAddress => new($"https://127.0.0.1:{HttpPort}");

    /// <summary>The bearer credential, for raw stubs.</summary>
    public Metadata Credentials => new() { { "Authorization", $"Bearer {ApiKey}" } };

    /// <summary>The broker's environment for <paramref name="server"/>'s certificate on both endpoints, RequireTls and the API key.</summary>
    public static Dictionary<string, string> Settings(RedisServer redis, IssuedCertificate server, int httpPort, int grpcPort, string apiKey) => new()
    {
        ["ConnectionStrings__redis"] = redis.ConnectionString,
        ["Kestrel__Endpoints__http__Url"] = $"https://127.0.0.1:{httpPort}",
        ["Kestrel__Endpoints__grpc__Url"] = $"https://127.0.0.1:{grpcPort}",
        ["Kestrel__Certificates__Default__Path"] = server.CertificatePath,
        ["Kestrel__Certificates__Default__KeyPath"] = server.KeyPath,
        ["TaskQueue__Security__RequireTls"] = "true",
        ["TaskQueue__Security__ApiKeys__tls-tests__Sha256"] = ApiKeys.Hash(apiKey),
        ["TaskQueue__Security__ApiKeys__tls-tests__Scopes__0"] = "submit:* consume:* admin:*",
    };

    /// <summary>Starts the broker and waits until its /health answers over HTTPS, trusting <paramref name="authority"/>.</summary>
    public static async Task<TlsBroker> StartAsync(
        TestCertificates authority, IssuedCertificate server, IReadOnlyDictionary<string, string>? settings = null)
    {
        var (httpPort, grpcPort, apiKey) = (RedisServer.FreePort(), RedisServer.FreePort(), ApiKeys.Create());
        var environment = Settings(await RedisServer.Shared, server, httpPort, grpcPort, apiKey);
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        var broker = new TlsBroker(ChildProcess.StartService("TaskQueue.Broker", $"tls-broker-{grpcPort}", environment), httpPort, grpcPort, apiKey);
        using var http = new HttpClient(BrokerChannel.CreateHandler(new TaskQueueClientTlsOptions { CaCertificatePath = authority.AuthorityPath }));
        await Eventually.TrueAsync(
            async () =>
            {
                try
                {
                    return (await http.GetAsync(new Uri(broker.HttpAddress, "/health"))).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            TimeSpan.FromSeconds(30),
            () => $"the TLS broker did not become healthy:\n{broker.Process.RecentOutput}");
        return broker;
    }

    public ValueTask DisposeAsync() => Process.DisposeAsync();
}
