using System.Net.Http.Headers;
using Grpc.Net.Client;
using TaskQueue.Protocol;

namespace TaskQueue.Tests.Infrastructure;

/// <summary>
/// The API keys a test cluster's brokers accept, made fresh per cluster: one with every scope for the test's own
/// clients, one with consume for its worker processes, and the broker settings that accept them (hashes only).
/// </summary>
internal sealed class TestCredentials
{
    public const string AdminName = "tests";
    public const string WorkerName = "workers";

    /// <summary>Every scope: submit, consume, read and admin on every queue.</summary>
    public string AdminKey { get; } = ApiKeys.Create();

    /// <summary>consume:* only, as the AppHost gives its workers.</summary>
    public string WorkerKey { get; } = ApiKeys.Create();

    /// <summary>The broker's environment for both keys.</summary>
    public Dictionary<string, string> BrokerSettings() =>
        new(KeySettings(AdminName, AdminKey, "submit:* consume:* read:* admin:*").Concat(KeySettings(WorkerName, WorkerKey, "consume:*")));

    /// <summary>The broker's environment for one more key: its hash and its scopes (space-separated).</summary>
    public static Dictionary<string, string> KeySettings(string name, string key, string scopes) => new()
    {
        [$"TaskQueue__Security__ApiKeys__{name}__Sha256"] = ApiKeys.Hash(key),
        [$"TaskQueue__Security__ApiKeys__{name}__Scopes__0"] = scopes,
    };

    /// <summary>
    /// A plain gRPC channel (as GrpcChannel.ForAddress makes it) whose calls carry <paramref name="key"/> (none when null);
    /// with <paramref name="oneConnection"/> it keeps to one HTTP/2 connection (calls past the stream limit queue on it).
    /// </summary>
    public static GrpcChannel Channel(string address, string? key, bool oneConnection = false) =>
        GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = new Bearer(key) { InnerHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = !oneConnection } },
            DisposeHttpClient = true,
        });

    /// <summary>An HTTP client whose requests carry <paramref name="key"/> (none when null).</summary>
    public static HttpClient Http(string? key) => new(new Bearer(key) { InnerHandler = new SocketsHttpHandler() });

    /// <summary>Sends "Authorization: Bearer &lt;token&gt;" on every request (the header as given, when it is not a plain token).</summary>
    private sealed class Bearer(string? token) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            return base.SendAsync(request, cancellationToken);
        }
    }
}
