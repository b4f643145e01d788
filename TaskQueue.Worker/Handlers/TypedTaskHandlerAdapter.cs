using System.Text.Json.Serialization.Metadata;

namespace TaskQueue.Worker.Handlers;

/// <summary>
/// Runs an <see cref="ITaskHandler{TPayload, TResult}"/> as an <see cref="ITaskHandler"/>: payload from JSON,
/// result to JSON. Scoped like the handler it wraps.
/// </summary>
internal sealed class TypedTaskHandlerAdapter<THandler, TPayload, TResult>(
    THandler handler,
    JsonTypeInfo<TPayload> payloadType,
    JsonTypeInfo<TResult> resultType) : ITaskHandler
    where THandler : class, ITaskHandler<TPayload, TResult>
{
    public string TaskType => handler.TaskType;

    public async Task<ReadOnlyMemory<byte>> HandleAsync(TaskContext context, CancellationToken cancellationToken)
    {
        var payload = TaskJson.ReadPayload(context, payloadType);
        var result = await handler.HandleAsync(payload, context, cancellationToken);
        return TaskJson.WriteResult(context, result, resultType);
    }
}
