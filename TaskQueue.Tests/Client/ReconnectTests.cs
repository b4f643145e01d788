using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TaskQueue.Client;
using TaskQueue.Tests.Fakes;
using TaskQueue.Tests.Infrastructure;
using TaskQueue.Tests.Worker;

namespace TaskQueue.Tests.Client;

/// <summary>
/// After a long broker outage a plain <c>GrpcChannel.ForAddress</c> channel sits in gRPC's reconnect backoff
/// (up to 2 minutes; 13.5 s measured after this 30 s outage) long after the broker is back. The client's own
/// channels must not.
/// </summary>
public sealed class ReconnectTests
{
    [Fact]
    public async Task A_client_on_its_own_channel_reaches_a_broker_within_seconds_of_its_return_after_a_long_outage()
    {
        var port = RedisServer.FreePort();
        using var channel = TaskQueueClient.CreateChannel(new Uri($"http://127.0.0.1:{port}"));

        await BrokerOutage.AssertBackWithinSecondsAsync(new TaskQueueClient(channel), port);
    }

    internal static class BrokerOutage
    {
        private static readonly TimeSpan s_outage = TimeSpan.FromSeconds(30);

        /// <summary>
        /// Calls through a 30 s outage (by its end gRPC's default backoff has grown past 15 s), starts a broker on
        /// <paramref name="port"/> and checks the client is through within the 5 s cap plus room for a slow machine.
        /// </summary>
        public static async Task AssertBackWithinSecondsAsync(TaskQueueClient client, int port)
        {
            var outage = Stopwatch.StartNew();
            var refused = 0;
            while (outage.Elapsed < s_outage)
            {
                Assert.Equal(StatusCode.Unavailable, await TryAsync(client));
                refused++;
                await Task.Delay(250);
            }

            var fake = new FakeTaskService();
            await using var server = await GrpcTestServer.StartAsync<FakeTaskService.Endpoint>(s => s.AddSingleton(fake), port);
            var back = Stopwatch.StartNew();
            while (await TryAsync(client) is { } status)
            {
                Assert.Equal(StatusCode.Unavailable, status);
                Assert.True(back.Elapsed < TimeSpan.FromSeconds(60), "the client never reached the broker again");
                await Task.Delay(100);
            }

            Assert.True(refused > 10, $"only {refused} calls were refused during the outage");
            Assert.InRange(back.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(9));
        }

        private static async Task<StatusCode?> TryAsync(TaskQueueClient client)
        {
            try
            {
                await client.GetQueueStatsAsync("default");
                return null;
            }
            catch (RpcException ex)
            {
                return ex.StatusCode;
            }
        }
    }
}

/// <summary>The client <c>AddTaskQueueClient</c> registers, through the same outage (a class of its own: runs in parallel).</summary>
public sealed class DependencyInjectionReconnectTests
{
    [Fact]
    public async Task A_client_from_dependency_injection_reaches_a_broker_within_seconds_of_its_return_after_a_long_outage()
    {
        var port = RedisServer.FreePort();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["TaskQueue:BrokerAddress"] = $"http://127.0.0.1:{port}" })
            .Build());
        services.AddLogging();
        services.AddTaskQueueClient();
        await using var provider = services.BuildServiceProvider();

        await ReconnectTests.BrokerOutage.AssertBackWithinSecondsAsync(provider.GetRequiredService<TaskQueueClient>(), port);
    }
}
