using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using TaskQueue.Worker.Runtime;

namespace TaskQueue.Tests.WorkerService;

/// <summary>The runnable worker's <c>Worker:TaskTypes</c>: which built-in handlers it runs, so which types its hello lists.</summary>
public sealed class TaskTypeSelectionTests
{
    private static async Task<IReadOnlyList<string>> TaskTypesAsync(string? setting)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        if (setting is not null)
        {
            builder.Configuration[TaskTypeSelectionExtensions.ConfigurationKey] = setting;
        }

        builder.Services.AddTaskQueueWorker();
        builder.AddBuiltInTaskHandlers();
        builder.AddTaskTypeSelection();
        await using var provider = builder.Services.BuildServiceProvider();
        return provider.GetRequiredService<HandlerCatalog>().TaskTypes;
    }

    [Fact]
    public async Task Without_the_setting_the_worker_runs_every_built_in_handler() =>
        Assert.Superset(new HashSet<string>(["echo", "sleep", "noop", "cpu", "fail", "crash"]), (await TaskTypesAsync(null)).ToHashSet());

    [Theory]
    [InlineData("echo")]
    [InlineData(" sleep , echo ,")]
    public async Task The_setting_limits_the_worker_to_the_types_it_names(string setting) =>
        Assert.Equal(
            setting.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal),
            await TaskTypesAsync(setting));

    [Fact]
    public async Task A_type_no_handler_has_stops_the_worker_at_start()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TaskTypesAsync("echo,resize-image"));

        Assert.Contains("resize-image", error.Message, StringComparison.Ordinal);
    }
}
