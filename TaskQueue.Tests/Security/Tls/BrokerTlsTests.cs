using System.Security.Authentication;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TaskQueue.Client;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;
using TaskState = TaskQueue.Client.TaskState;
using TaskQueue.Tests.Distributed;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Security.Tls;

/// <summary>
/// A real broker process serving HTTPS only (RequireTls) from a certificate of the test's own CA: plaintext and
/// untrusting callers are refused, the client library and a worker process that trust the CA work, and a broker
/// told to require TLS will not start with a plaintext endpoint. Every call carries the broker's API key, so a
/// refusal here is the transport's, not the credentials'.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class BrokerTlsTests(BrokerTlsTests.Fixture fixture) : IClassFixture<BrokerTlsTests.Fixture>
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_plaintext_call_to_the_TLS_only_broker_fails_on_both_endpoints()
    {
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{fixture.Broker.GrpcPort}");
        var client = new TaskService.TaskServiceClient(channel);
        using var http = new HttpClient();

        var grpc = await Assert.ThrowsAsync<RpcException>(() =>
            client.GetQueueStatsAsync(new GetQueueStatsRequest { Queue = Queue() }, fixture.Broker.Credentials, DateTime.UtcNow.AddSeconds(10)).ResponseAsync);
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(new Uri($"http://127.0.0.1:{fixture.Broker.HttpPort}/health")));

        Assert.Equal(StatusCode.Unavailable, grpc.StatusCode);
    }

    [Fact]
    public async Task A_client_that_does_not_trust_the_brokers_CA_fails_in_the_TLS_handshake()
    {
        using var other = TestCertificates.CreateAuthority("someone-else");
        using var systemStore = TaskQueueClient.CreateChannel(fixture.Broker.GrpcAddress);
        using var wrongCa = TaskQueueClient.CreateChannel(new TaskQueueClientOptions
        {
            BrokerAddress = fixture.Broker.GrpcAddress,
            Tls = { CaCertificatePath = other.AuthorityPath },
        });

        foreach (var channel in new[] { systemStore, wrongCa })
        {
            var client = Authenticated(channel);
            var refused = await Assert.ThrowsAsync<RpcException>(() => client.GetQueueStatsAsync(Queue()));

            // Grpc.Net.Client reports a failed handshake as INTERNAL (asking again cannot help), with the TLS error as the cause.
            Assert.True(refused.StatusCode == StatusCode.Internal, refused.ToString());
            Assert.IsType<AuthenticationException>(Innermost<AuthenticationException>(refused.Status.DebugException));
        }
    }

    [Fact]
    public async Task A_client_that_trusts_the_CA_in_code_submits_and_reads_over_TLS()
    {
        using var channel = TaskQueueClient.CreateChannel(new TaskQueueClientOptions
        {
            BrokerAddress = fixture.Broker.GrpcAddress,
            Tls = { CaCertificate = fixture.Authority.Authority },
        });
        var client = Authenticated(channel);
        var queue = Queue();

        var submitted = await client.SubmitAsync(TaskRequest.FromText("echo", "over tls", queue));
        var snapshot = await client.GetAsync(submitted.TaskId);
        var stats = await client.GetQueueStatsAsync(queue);

        Assert.Equal((TaskState.Ready, queue), (snapshot.State, snapshot.Queue));
        Assert.Equal(1, stats.Submitted);
    }

    [Fact]
    public async Task A_client_configured_with_TaskQueue_Tls_CaCertificatePath_reaches_the_broker()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["TaskQueue:BrokerAddress"] = fixture.Broker.GrpcAddress.ToString(),
            ["TaskQueue:Tls:CaCertificatePath"] = fixture.Authority.AuthorityPath,
            [ApiKeys.ConfigurationKey] = fixture.Broker.ApiKey,
        }).Build();
        await using var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(configuration)
            .AddLogging()
            .AddTaskQueueClient()
            .BuildServiceProvider();
        var client = services.GetRequiredService<TaskQueueClient>();

        var stats = await client.GetQueueStatsAsync(Queue());

        Assert.Equal(0, stats.Submitted);
    }

    [Fact]
    public async Task A_worker_process_that_trusts_the_CA_completes_a_task_over_TLS()
    {
        var queue = Queue();
        await using var worker = ChildProcess.StartService("TaskQueue.WorkerService", $"tls-worker-{queue}", new Dictionary<string, string>
        {
            ["Worker__BrokerAddress"] = fixture.Broker.GrpcAddress.ToString(),
            ["Worker__Queues"] = queue,
            ["Worker__WorkerId"] = $"tls-worker-{queue}",
            ["Worker__DrainTimeout"] = "00:00:05",
            // The worker falls back to the client's section: one environment for both.
            ["TaskQueue__Tls__CaCertificatePath"] = fixture.Authority.AuthorityPath,
            ["TaskQueue__ApiKey"] = fixture.Broker.ApiKey,
        });
        using var channel = TaskQueueClient.CreateChannel(new TaskQueueClientOptions
        {
            BrokerAddress = fixture.Broker.GrpcAddress,
            Tls = { CaCertificatePath = fixture.Authority.AuthorityPath },
        });
        var client = Authenticated(channel);

        var submitted = await client.SubmitAsync(TaskRequest.FromText("echo", "hello over tls", queue));
        var done = await client.WaitAsync(submitted.TaskId, s_wait);

        Assert.True(done.State == TaskState.Completed, $"task {done.State}; worker:\n{worker.RecentOutput}\nbroker:\n{fixture.Broker.Process.RecentOutput}");
        Assert.Equal("hello over tls", System.Text.Encoding.UTF8.GetString(done.Result.Span));
    }

    [Fact]
    public async Task A_broker_that_requires_TLS_refuses_to_start_with_a_plaintext_endpoint()
    {
        var (httpPort, grpcPort) = (RedisServer.FreePort(), RedisServer.FreePort());
        var settings = TlsBroker.Settings(await RedisServer.Shared, fixture.Server, httpPort, grpcPort, ApiKeys.Create());
        settings["Kestrel__Endpoints__grpc__Url"] = $"http://127.0.0.1:{grpcPort}";
        await using var broker = ChildProcess.StartService("TaskQueue.Broker", $"plaintext-broker-{grpcPort}", settings);

        var exited = await broker.WaitForExitAsync(s_wait);

        Assert.True(exited, $"the broker kept running:\n{broker.RecentOutput}");
        Assert.NotEqual(0, broker.ExitCode);
        Assert.Contains(
            $"TaskQueue:Security:RequireTls is true, but Kestrel:Endpoints:grpc:Url is plaintext (http://127.0.0.1:{grpcPort})",
            broker.RecentOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_CLI_reaches_the_broker_with_ca_certificate_and_is_refused_without_it()
    {
        var queue = Queue();

        var (trusted, trustedOutput) = await RunCliAsync("stats", "--broker", fixture.Broker.GrpcAddress.ToString(), "--queue", queue, "--ca-certificate", fixture.Authority.AuthorityPath);
        var (untrusted, untrustedOutput) = await RunCliAsync("stats", "--broker", fixture.Broker.GrpcAddress.ToString(), "--queue", queue);

        Assert.True(trusted == 0, trustedOutput);
        Assert.Contains($"queue:         {queue}", trustedOutput, StringComparison.Ordinal);
        Assert.True(untrusted == 2, untrustedOutput);
        Assert.Contains("The SSL connection could not be established", untrustedOutput, StringComparison.Ordinal);
    }

    /// <summary>The taskqueue CLI as a process of its own, with the broker's key in its environment; its exit code and output.</summary>
    private async Task<(int ExitCode, string Output)> RunCliAsync(params string[] arguments)
    {
        var dll = BuildOutput.Dll("TaskQueue.Cli");
        await using var cli = ChildProcess.Start("taskqueue", "dotnet", [dll, .. arguments], new Dictionary<string, string>
        {
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "",
            ["TaskQueue__ApiKey"] = fixture.Broker.ApiKey,
        }, Path.GetDirectoryName(dll));
        Assert.True(await cli.WaitForExitAsync(s_wait), $"the CLI did not exit:\n{cli.RecentOutput}");
        return (cli.ExitCode, cli.RecentOutput);
    }

    private static string Queue() => "tls-" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>The client library over <paramref name="channel"/>, sending the broker's key on every call.</summary>
    private TaskQueueClient Authenticated(GrpcChannel channel) =>
        new(channel.Intercept(metadata =>
        {
            metadata.Add("Authorization", $"Bearer {fixture.Broker.ApiKey}");
            return metadata;
        }));

    private static T? Innermost<T>(Exception? exception)
        where T : Exception
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is T found)
            {
                return found;
            }
        }

        return null;
    }

    /// <summary>One CA, one server certificate and one TLS broker for the class.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        public TestCertificates Authority { get; } = TestCertificates.CreateAuthority();

        public IssuedCertificate Server { get; private set; } = null!;

        public TlsBroker Broker { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Server = Authority.IssueServer();
            Broker = await TlsBroker.StartAsync(Authority, Server);
        }

        public async Task DisposeAsync()
        {
            if (Broker is not null)
            {
                await Broker.DisposeAsync();
            }

            Authority.Dispose();
        }
    }
}
