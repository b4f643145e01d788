using System.Net.Http.Json;
using System.Text.Json;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;
using TaskQueue.Tests.Distributed;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Deployment;

/// <summary>
/// `docker compose --profile demo up` without Docker: Redis with the compose file's arguments, the broker,
/// as many workers as the file's replicas and the client's command, each a plain process with exactly
/// the environment the compose file gives its container, only the addresses moved to loopback (and the
/// dashboard's OTLP endpoint to a listener that counts exporter connections). Security on: the secrets come from a
/// .env file scripts/compose-env.sh wrote, Redis requires its password, every caller has its own key.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class ComposeProcessTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_compose_services_run_as_processes_with_the_compose_environment_and_finish_the_demo()
    {
        var compose = ComposeFile.Load();
        var (redisService, brokerService, workerService, clientService) = (compose["redis"], compose["broker"], compose["worker"], compose["client"]);
        await using var redis = await RedisServerProcess.StartAsync(
            extraArguments: [.. redisService.Command.Skip(1)], password: ComposeFile.DotEnv["REDIS_PASSWORD"]);
        await using (var admin = await redis.ConnectAsync())
        {
            Assert.Equal(["appendonly", "yes"], (object?[])(await admin.CallAsync(CancellationToken.None, "CONFIG", "GET", "appendonly"))!);
            Assert.Equal(["maxmemory-policy", "noeviction"], (object?[])(await admin.CallAsync(CancellationToken.None, "CONFIG", "GET", "maxmemory-policy"))!);
        }

        await using (var anonymous = await RespConnection.ConnectAsync(redis.Endpoint, CancellationToken.None))
        {
            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => anonymous.CallAsync(CancellationToken.None, "PING"));
            Assert.Contains("NOAUTH", refused.Message, StringComparison.Ordinal);
        }

        using var brokerTelemetry = new OtlpSink();
        using var workerTelemetry = new OtlpSink();
        using var clientTelemetry = new OtlpSink();
        var (httpPort, grpcPort) = (RedisServer.FreePort(), RedisServer.FreePort());
        var (httpInContainer, grpcInContainer) = (ComposeSettingsTests.ListeningPort(brokerService, "http"), ComposeSettingsTests.ListeningPort(brokerService, "grpc"));
        var network = new LoopbackAddresses()
            .Map("redis", 6379, redis.Port)
            .Map("broker", grpcInContainer, grpcPort)
            .Map("broker", httpInContainer, httpPort);
        // Inside the broker's own container: its wildcard binds and the health check's 127.0.0.1.
        var brokerContainer = new LoopbackAddresses();
        foreach (var host in new[] { "+", "*", "0.0.0.0", "[::]", "127.0.0.1", "localhost" })
        {
            brokerContainer.Map(host, grpcInContainer, grpcPort).Map(host, httpInContainer, httpPort);
        }

        var services = compose.Services.Keys.ToList();
        var brokerEnvironment = network.With(brokerContainer).With(Dashboard(brokerTelemetry)).Rewrite(brokerService.Environment, services);
        var workerEnvironment = network.With(Dashboard(workerTelemetry)).Rewrite(workerService.Environment, services);
        var clientEnvironment = network.With(Dashboard(clientTelemetry)).Rewrite(clientService.Environment, services);
        var healthUrl = new Uri(brokerContainer.Rewrite(brokerService.HealthCheck.Single(arg => arg.StartsWith("http://", StringComparison.Ordinal))));

        var processes = new List<ChildProcess>();
        try
        {
            processes.Add(ChildProcess.StartService("TaskQueue.Broker", "compose-broker", brokerEnvironment));
            // As the operator: /workers needs read.
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            http.DefaultRequestHeaders.Authorization = new("Bearer", ComposeFile.DotEnv["TASKQUEUE_OPERATOR_KEY"]);
            await Eventually.TrueAsync(() => IsHealthyAsync(http, healthUrl), StartTimeout, () => $"the broker never passed its health check:\n{Output(processes)}");

            for (var replica = 1; replica <= workerService.Replicas; replica++)
            {
                processes.Add(ChildProcess.StartService("TaskQueue.WorkerService", $"compose-worker-{replica}", workerEnvironment));
            }

            var workersUrl = new Uri($"http://127.0.0.1:{httpPort}/workers");
            await Eventually.TrueAsync(
                async () => (await ConnectedWorkersAsync(http, workersUrl)) == workerService.Replicas,
                StartTimeout,
                () => $"{workerService.Replicas} workers did not connect:\n{Output(processes)}");

            var (exitCode, output) = await CommandProcess.RunAsync("TaskQueue.Cli", clientService.Command, clientEnvironment, TimeSpan.FromMinutes(4));

            Assert.True(exitCode == 0, $"client {string.Join(' ', clientService.Command)} exited {exitCode}:\n{output}\n{Output(processes)}");
            Assert.Contains("999 completed, 1 dead-lettered", output, StringComparison.Ordinal);
            await Eventually.TrueAsync(
                () => Task.FromResult(brokerTelemetry.Connections > 0 && workerTelemetry.Connections > 0 && clientTelemetry.Connections > 0),
                TimeSpan.FromSeconds(30),
                () => $"OTLP connections: broker {brokerTelemetry.Connections}, worker {workerTelemetry.Connections}, client {clientTelemetry.Connections}");
            Assert.All(processes, process => Assert.False(process.HasExited, $"{process.Name} exited:\n{process.RecentOutput}"));
        }
        finally
        {
            await Task.WhenAll(processes.Select(process => process.DisposeAsync().AsTask()));
        }
    }

    private static LoopbackAddresses Dashboard(OtlpSink sink) => new LoopbackAddresses().Map("dashboard", 18889, sink.Port);

    private static async Task<bool> IsHealthyAsync(HttpClient http, Uri url)
    {
        try
        {
            return (await http.GetAsync(url)).IsSuccessStatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    private static async Task<int> ConnectedWorkersAsync(HttpClient http, Uri url)
    {
        var workers = await http.GetFromJsonAsync<Dictionary<string, JsonElement>>(url);
        return workers!.Values.Count(worker => worker.GetProperty("status").GetString() is WorkerStatuses.Idle or WorkerStatuses.Busy);
    }

    private static string Output(IEnumerable<ChildProcess> processes) =>
        string.Join("\n---\n", processes.Select(p => p.Name + (p.HasExited ? " (exited)" : "") + ":\n" + p.RecentOutput));
}
