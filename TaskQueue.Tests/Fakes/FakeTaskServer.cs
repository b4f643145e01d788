using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;

namespace TaskQueue.Tests.Fakes;

/// <summary>A <see cref="FakeTaskService"/> behind a real gRPC server on loopback, with a channel to it: what the client's tests talk to.</summary>
internal sealed class FakeTaskServer : IAsyncLifetime
{
    private GrpcTestServer? _server;
    private GrpcChannel? _channel;

    public FakeTaskService Fake { get; } = new();

    public Uri Address => _server!.Address;

    public GrpcChannel Channel => _channel!;

    public async Task InitializeAsync()
    {
        _server = await GrpcTestServer.StartAsync<FakeTaskService.Endpoint>(services => services.AddSingleton(Fake));
        _channel = GrpcChannel.ForAddress(_server.Address);
    }

    public async Task DisposeAsync()
    {
        _channel?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
