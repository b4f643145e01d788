using Grpc.Core;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Distributed;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Security;

/// <summary>
/// A broker with no credentials configured refuses to start; TaskQueue:Security:AllowAnonymous=true is the one way to
/// run it open (the only test that sets it: it proves the switch).
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class SecureByDefaultTests
{
    [Fact]
    public async Task A_broker_without_credentials_refuses_to_start_and_says_how_to_configure_them()
    {
        await using var broker = await StartAsync(new Dictionary<string, string>());

        Assert.True(await broker.WaitForExitAsync(TimeSpan.FromSeconds(60)), "the broker kept running without credentials");
        Assert.NotEqual(0, broker.ExitCode);
        Assert.Contains("TaskQueue__Security__AllowAnonymous=true", broker.RecentOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_AllowAnonymous_a_broker_starts_with_a_warning_serves_callers_without_credentials_and_still_refuses_bad_ones()
    {
        var (httpPort, grpcPort) = (RedisServer.FreePort(), RedisServer.FreePort());
        await using var broker = await StartAsync(new Dictionary<string, string> { ["TaskQueue__Security__AllowAnonymous"] = "true" }, httpPort, grpcPort);
        using var health = new HttpClient();
        await Eventually.TrueAsync(
            async () =>
            {
                try
                {
                    return (await health.GetAsync(new Uri($"http://127.0.0.1:{httpPort}/health"))).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            TimeSpan.FromSeconds(30),
            () => broker.RecentOutput);
        using var anonymous = TestCredentials.Channel($"http://127.0.0.1:{grpcPort}", null);
        using var badKey = TestCredentials.Channel($"http://127.0.0.1:{grpcPort}", ApiKeys.Create());
        var spec = new TaskSpec { Queue = "anonymous-" + Guid.NewGuid().ToString("N")[..8], Type = "echo" };

        var submitted = await new TaskService.TaskServiceClient(anonymous).SubmitAsync(new SubmitRequest { Task = spec });
        var refused = await Assert.ThrowsAsync<RpcException>(() => new TaskService.TaskServiceClient(badKey).SubmitAsync(new SubmitRequest { Task = spec }).ResponseAsync);

        Assert.NotEmpty(submitted.TaskId);
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        Assert.Contains("Anonymous access is allowed", broker.RecentOutput, StringComparison.Ordinal);
    }

    private static async Task<ChildProcess> StartAsync(Dictionary<string, string> settings, int? httpPort = null, int? grpcPort = null)
    {
        var redis = await RedisServer.Shared;
        var environment = new Dictionary<string, string>(settings)
        {
            ["ConnectionStrings__redis"] = redis.ConnectionString,
            ["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{httpPort ?? RedisServer.FreePort()}",
            ["Kestrel__Endpoints__grpc__Url"] = $"http://127.0.0.1:{grpcPort ?? RedisServer.FreePort()}",
        };
        return ChildProcess.StartService("TaskQueue.Broker", "broker-secure-by-default", environment);
    }
}
