using Microsoft.Extensions.DependencyInjection.Extensions;
using TaskQueue.WorkerService.Handlers;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the handlers the runnable worker ships with.</summary>
internal static class BuiltInTaskHandlerExtensions
{
    /// <summary>Registers echo, noop, sleep, cpu, fail, crash, spin, bytes and count.</summary>
    public static IServiceCollection AddBuiltInTaskHandlers(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        return services
            .AddTaskHandler<EchoTaskHandler>()
            .AddTaskHandler<NoopTaskHandler>()
            .AddTaskHandler<SleepTaskHandler>()
            .AddTaskHandler<CpuTaskHandler>()
            .AddTaskHandler<FailTaskHandler>()
            .AddTaskHandler<CrashTaskHandler>()
            .AddTaskHandler<SpinTaskHandler>()
            .AddTaskHandler<BytesTaskHandler>()
            .AddTaskHandler<CountTaskHandler>();
    }

    /// <inheritdoc cref="AddBuiltInTaskHandlers(IServiceCollection)"/>
    public static IHostApplicationBuilder AddBuiltInTaskHandlers(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddBuiltInTaskHandlers();
        return builder;
    }
}
