using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace TaskQueue.Worker.Handlers;

/// <summary>
/// Payloads and results as JSON. Error messages name the type and the position, never the payload's text:
/// they travel to the broker, to logs and to traces.
/// </summary>
internal static class TaskJson
{
    /// <summary>The payload as <typeparamref name="T"/>; default when empty. Malformed JSON is a permanent failure.</summary>
    public static T? Deserialize<T>(ReadOnlyMemory<byte> payload, JsonTypeInfo<T> typeInfo)
    {
        if (payload.IsEmpty)
        {
            return default;
        }

        try
        {
            return JsonSerializer.Deserialize(payload.Span, typeInfo);
        }
        catch (JsonException ex)
        {
            // Not chained: a JsonException's own message may quote the offending input.
            throw new NonRetryableTaskException(
                $"The payload is not valid JSON for {typeof(T).Name}{Position(ex)}.");
        }
    }

    /// <summary>The payload of a typed handler's task: required, so empty and JSON null fail too.</summary>
    public static T ReadPayload<T>(TaskContext context, JsonTypeInfo<T> typeInfo)
    {
        if (context.Payload.IsEmpty)
        {
            throw new NonRetryableTaskException($"The '{context.Type}' task has an empty payload; its handler expects JSON for {typeof(T).Name}.");
        }

        return Deserialize(context.Payload, typeInfo)
            ?? throw new NonRetryableTaskException($"The '{context.Type}' task has a null payload; its handler expects JSON for {typeof(T).Name}.");
    }

    /// <summary>A typed handler's result as JSON; a result that cannot be serialised is a permanent failure.</summary>
    public static ReadOnlyMemory<byte> WriteResult<T>(TaskContext context, T result, JsonTypeInfo<T> typeInfo)
    {
        try
        {
            return JsonSerializer.SerializeToUtf8Bytes(result, typeInfo);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException)
        {
            throw new NonRetryableTaskException($"The result of the '{context.Type}' task could not be serialised as JSON for {typeof(T).Name}.");
        }
    }

    /// <summary>The type info for <typeparamref name="T"/> in a source-generated context; a missing one fails at registration.</summary>
    public static JsonTypeInfo<T> TypeInfo<T>(IJsonTypeInfoResolver resolver, JsonSerializerOptions options) =>
        resolver.GetTypeInfo(typeof(T), options) as JsonTypeInfo<T>
        ?? throw new InvalidOperationException($"The JSON context has no type info for {typeof(T)}: add [JsonSerializable(typeof({typeof(T).Name}))] to it.");

    /// <summary>The type info for <typeparamref name="T"/> from options (reflection unless the options carry a resolver).</summary>
    public static JsonTypeInfo<T> TypeInfo<T>(JsonSerializerOptions options) =>
        (JsonTypeInfo<T>)options.GetTypeInfo(typeof(T));

    private static string Position(JsonException ex) =>
        ex.Path is { } path ? $" (at {path}, line {ex.LineNumber ?? 0}, byte {ex.BytePositionInLine ?? 0})" : "";
}
