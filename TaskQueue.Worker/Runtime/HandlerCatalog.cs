using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using TaskQueue.Worker.Handlers;

namespace TaskQueue.Worker.Runtime;

/// <summary>Marks a handler class registered with AddTaskHandler; generic so duplicates collapse.</summary>
internal interface ITaskHandlerRegistration
{
    Type HandlerType { get; }
}

internal sealed class TaskHandlerRegistration<THandler> : ITaskHandlerRegistration
    where THandler : class, ITaskHandler
{
    public Type HandlerType => typeof(THandler);
}

/// <summary>Task type → handler class, read once at start so a bad registration stops the worker early.</summary>
internal sealed class HandlerCatalog
{
    private readonly FrozenDictionary<string, Type> _handlers;

    public HandlerCatalog(IEnumerable<ITaskHandlerRegistration> registrations, IServiceScopeFactory scopeFactory)
    {
        var handlers = new Dictionary<string, Type>(StringComparer.Ordinal);
        using (var scope = scopeFactory.CreateScope())
        {
            foreach (var registration in registrations)
            {
                var handler = (ITaskHandler)scope.ServiceProvider.GetRequiredService(registration.HandlerType);
                if (string.IsNullOrWhiteSpace(handler.TaskType))
                {
                    throw new InvalidOperationException($"Task handler {registration.HandlerType} has an empty TaskType.");
                }

                if (!handlers.TryAdd(handler.TaskType, registration.HandlerType))
                {
                    throw new InvalidOperationException(
                        $"Task type '{handler.TaskType}' has two handlers: {handlers[handler.TaskType]} and {registration.HandlerType}.");
                }
            }
        }

        if (handlers.Count == 0)
        {
            // An empty type list in Hello would mean "every type" to the broker.
            throw new InvalidOperationException(
                "No task handlers are registered: call services.AddTaskHandler<T>() or services.AddBuiltInTaskHandlers().");
        }

        _handlers = handlers.ToFrozenDictionary(StringComparer.Ordinal);
        TaskTypes = [.. _handlers.Keys.Order(StringComparer.Ordinal)];
    }

    public IReadOnlyList<string> TaskTypes { get; }

    public bool TryGetHandlerType(string taskType, [NotNullWhen(true)] out Type? handlerType) =>
        _handlers.TryGetValue(taskType, out handlerType);
}
