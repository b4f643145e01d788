using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TaskQueue.Cli;
using TaskQueue.Tests.Fakes;

namespace TaskQueue.Tests.Cli;

/// <summary>The CLI tests' fixture: a fake broker on a test gRPC server, and the CLI run against it.</summary>
public abstract class FakeBrokerCliTests : IAsyncLifetime
{
    private GrpcTestServer? _server;

    /// <summary>The broker the CLI talks to: set its handlers, read what it was sent.</summary>
    private protected FakeTaskService Fake { get; } = new();

    public async Task InitializeAsync() =>
        _server = await GrpcTestServer.StartAsync<FakeTaskService.Endpoint>(services => services.AddSingleton(Fake));

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>Runs the CLI with <paramref name="args"/> and <c>--broker</c> the fake's address.</summary>
    protected Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args) => RunWithAsync([], args);

    /// <summary>As <see cref="RunAsync"/>, with these configuration settings.</summary>
    protected async Task<(int ExitCode, string Output, string Error)> RunWithAsync(Dictionary<string, string?> settings, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var exitCode = await TaskQueueCli.InvokeAsync([.. args, "--broker", _server!.Address.ToString()], output, error, configuration);
        return (exitCode, output.ToString(), error.ToString());
    }
}
