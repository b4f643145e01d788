using Microsoft.Extensions.DependencyInjection.Extensions;
using TaskQueue.Worker.Handlers;
using TaskQueue.Worker.Runtime;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Runs only some of the registered handlers: <c>Worker:TaskTypes</c> ("echo,sleep"; unset or empty: all of
/// them), so one runnable worker can serve part of a mixed fleet. The worker's hello then lists only those
/// types, and the broker sends it only tasks of those types. A type no registered handler has stops the
/// worker at start.
/// </summary>
internal static class TaskTypeSelectionExtensions
{
    /// <summary>The setting: a comma-separated list of task types.</summary>
    public const string ConfigurationKey = "Worker:TaskTypes";

    /// <summary>Limits the worker to the task types <see cref="ConfigurationKey"/> names, if it names any.</summary>
    public static IHostApplicationBuilder AddTaskTypeSelection(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var selected = (builder.Configuration[ConfigurationKey] ?? "")
            .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .ToHashSet(StringComparer.Ordinal);
        if (selected.Count > 0)
        {
            // Replaces the catalog AddTaskQueueWorker adds (whichever of the two runs first).
            builder.Services.Replace(ServiceDescriptor.Singleton(provider => Catalog(provider, selected)));
        }

        return builder;
    }

    private static HandlerCatalog Catalog(IServiceProvider provider, HashSet<string> selected)
    {
        var scopes = provider.GetRequiredService<IServiceScopeFactory>();
        var kept = new List<ITaskHandlerRegistration>();
        var found = new HashSet<string>(StringComparer.Ordinal);
        using (var scope = scopes.CreateScope())
        {
            foreach (var registration in provider.GetServices<ITaskHandlerRegistration>())
            {
                var type = ((ITaskHandler)scope.ServiceProvider.GetRequiredService(registration.HandlerType)).TaskType;
                if (selected.Contains(type))
                {
                    kept.Add(registration);
                    found.Add(type);
                }
            }
        }

        var unknown = selected.Except(found).Order(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
        {
            throw new InvalidOperationException(
                $"{ConfigurationKey} names task types no registered handler has: {string.Join(", ", unknown)}.");
        }

        return new HandlerCatalog(kept, scopes);
    }
}
