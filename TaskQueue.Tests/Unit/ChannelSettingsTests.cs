using TaskQueue.Client.Internal;
using TaskQueue.Worker.Extensions;

namespace TaskQueue.Tests.Unit;

/// <summary>The client and the worker build their HTTP/2 handlers from the same settings (protos/Shared/ChannelSettings.cs).</summary>
public sealed class ChannelSettingsTests
{
    [Fact]
    public void The_client_and_the_worker_reach_the_broker_with_the_same_keep_alive_and_connect_settings()
    {
        using var client = BrokerChannel.CreateHandler();
        using var worker = WorkerBrokerChannel.CreateHandler();

        Assert.Equal((true, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10)),
            (client.EnableMultipleHttp2Connections, client.KeepAlivePingDelay, client.KeepAlivePingTimeout, client.ConnectTimeout));
        Assert.Equal(
            (client.EnableMultipleHttp2Connections, client.KeepAlivePingDelay, client.KeepAlivePingTimeout, client.ConnectTimeout),
            (worker.EnableMultipleHttp2Connections, worker.KeepAlivePingDelay, worker.KeepAlivePingTimeout, worker.ConnectTimeout));
    }

    [Fact]
    public void The_worker_keeps_its_long_lived_stream_pinged_and_never_retires_it_for_idleness()
    {
        using var worker = WorkerBrokerChannel.CreateHandler();

        Assert.Equal((HttpKeepAlivePingPolicy.Always, Timeout.InfiniteTimeSpan), (worker.KeepAlivePingPolicy, worker.PooledConnectionIdleTimeout));
    }
}
