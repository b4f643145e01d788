using System.CommandLine;
using Grpc.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TaskQueue.Client;

namespace TaskQueue.Cli;

/// <summary>What a command gets to work with.</summary>
internal sealed record CliContext(TaskQueueClient Client, TextWriter Output, TextWriter Error, TimeProvider TimeProvider)
{
    /// <summary>The CLI's configuration (environment variables included); empty when a test gives none.</summary>
    public IConfiguration Configuration { get; init; } = new ConfigurationBuilder().Build();

    /// <summary>The broker addresses the command talks to.</summary>
    public IReadOnlyList<Uri> Brokers { get; init; } = [];
}

/// <summary>Builds a small host per invocation (service discovery, telemetry, the client) and runs one command on it.</summary>
internal sealed class CliHost(Option<Uri[]> brokerOption, Option<string?> apiKeyOption)
{
    public const int ExitOk = 0;
    public const int ExitNotCompleted = 1;
    public const int ExitError = 2;
    public const int ExitCancelled = 130;

    public const string LocalBrokerAddress = "http://localhost:5001";

    /// <summary>--ca-certificate: the CA an https:// broker's certificate must chain to (wins over TaskQueue:Tls:CaCertificatePath).</summary>
    public Option<string?>? CaCertificateOption { get; init; }

    /// <summary>
    /// TaskQueue:BrokerAddresses (a list) or TaskQueue:BrokerAddress (env TaskQueue__BrokerAddress), as
    /// AddTaskQueueClient reads them; else ConnectionStrings:taskqueue (one address
    /// or several, comma-separated: an AppHost that references TaskQueue sets it); else the service-discovery
    /// name when the broker's endpoint is in configuration (run under Aspire); else the broker's local
    /// development port.
    /// </summary>
    public static IReadOnlyList<Uri> DefaultBrokerAddresses(IConfiguration configuration)
    {
        var list = configuration.GetSection($"{TaskQueueClientOptions.SectionName}:{nameof(TaskQueueClientOptions.BrokerAddresses)}").GetChildren()
            .Select(child => Uri.TryCreate(child.Value, UriKind.Absolute, out var entry) ? entry : null)
            .ToList();
        if (list.Count > 0 && list.All(entry => entry is not null))
        {
            return [.. list.OfType<Uri>()];
        }

        if (configuration[$"{TaskQueueClientOptions.SectionName}:{nameof(TaskQueueClientOptions.BrokerAddress)}"] is { Length: > 0 } configured
            && Uri.TryCreate(configured, UriKind.Absolute, out var address))
        {
            return [address];
        }

        if (TaskQueueClientOptions.TryParseBrokerAddresses(
                configuration.GetConnectionString(TaskQueueClientOptions.ConnectionStringName), out var addresses, out _))
        {
            return addresses;
        }

        return configuration.GetSection("services:broker:grpc").Exists()
            ? [TaskQueueClientOptions.DefaultBrokerAddress]
            : [new Uri(LocalBrokerAddress)];
    }

    public static IConfiguration LoadConfiguration() => new ConfigurationBuilder()
        .SetBasePath(AppContext.BaseDirectory)
        .AddJsonFile("appsettings.json", optional: true)
        .AddEnvironmentVariables()
        .Build();

    public async Task<int> RunAsync(ParseResult parseResult, Func<CliContext, CancellationToken, Task<int>> command, CancellationToken cancellationToken)
    {
        var output = parseResult.InvocationConfiguration.Output;
        var error = parseResult.InvocationConfiguration.Error;
        var broker = parseResult.GetRequiredValue(brokerOption);
        var apiKey = parseResult.GetValue(apiKeyOption);
        var caCertificate = CaCertificateOption is null ? null : parseResult.GetValue(CaCertificateOption);
        try
        {
            using var host = BuildHost(broker, apiKey, caCertificate);
            await host.StartAsync(cancellationToken);
            try
            {
                var client = host.Services.GetRequiredService<TaskQueueClient>();
                var context = new CliContext(client, output, error, TimeProvider.System)
                {
                    Configuration = host.Services.GetRequiredService<IConfiguration>(),
                    Brokers = broker,
                };
                return await command(context, cancellationToken);
            }
            finally
            {
                // Flushes the telemetry of the command.
                await host.StopAsync(CancellationToken.None);
            }
        }
        catch (RpcException ex)
        {
            await error.WriteLineAsync($"error: {ex.StatusCode}: {ex.Status.Detail} (broker {string.Join(",", broker.AsEnumerable())})");
            return ExitError;
        }
        catch (OptionsValidationException ex)
        {
            await error.WriteLineAsync($"error: {ex.Message}");
            return ExitError;
        }
        catch (ArgumentException ex)
        {
            await error.WriteLineAsync($"error: {ex.Message}");
            return ExitError;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await error.WriteLineAsync("cancelled");
            return ExitCancelled;
        }
    }

    private static IHost BuildHost(Uri[] broker, string? apiKey, string? caCertificate)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole(options => options.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // Traces only when exported: from a terminal the CLI leaves each task's sampling to the broker's sampler.
        builder.AddServiceDefaults(traceOnlyWhenExporting: true);
        builder.Services.AddSingleton<IHostLifetime, CommandLineLifetime>();
        if (caCertificate is not null)
        {
            // After the configuration's TaskQueue:Tls: the command line wins.
            builder.Services.PostConfigure<TaskQueueClientOptions>(options => options.Tls.CaCertificatePath = caCertificate);
        }

        builder.AddTaskQueueClient(options =>
        {
            options.BrokerAddresses = broker;
            options.ApiKey = apiKey;
        });
        return builder.Build();
    }

    /// <summary>System.CommandLine owns Ctrl+C (it cancels the command's token); the host must not take it.</summary>
    private sealed class CommandLineLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
