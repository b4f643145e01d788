using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace TaskQueue.Tests.Fakes;

/// <summary>A hand-written gRPC service on Kestrel, 127.0.0.1 on a free port, HTTP/2 only (like the broker's grpc endpoint).</summary>
internal sealed class GrpcTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private GrpcTestServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }

    public static Task<GrpcTestServer> StartAsync<TService>(Action<IServiceCollection> configureServices, int port = 0)
        where TService : class =>
        StartAsync(configureServices, app => app.MapGrpcService<TService>(), port);

    /// <summary>Starts the server on <paramref name="port"/> (0: a free one).</summary>
    public static async Task<GrpcTestServer> StartAsync(Action<IServiceCollection> configureServices, Action<WebApplication> mapServices, int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        // No appsettings.json or environment: the test output holds the broker's, with fixed Kestrel ports.
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
            kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        configureServices(builder.Services);

        var app = builder.Build();
        mapServices(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new GrpcTestServer(app, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }
}
