using System.Text;
using System.Text.Json;

namespace TaskQueue.Worker.Handlers;

/// <summary>Helpers to build handler results.</summary>
public static class TaskResults
{
    public static ReadOnlyMemory<byte> Empty => ReadOnlyMemory<byte>.Empty;

    public static ReadOnlyMemory<byte> FromText(string text) => Encoding.UTF8.GetBytes(text);

    public static ReadOnlyMemory<byte> FromJson<T>(T value, JsonSerializerOptions? options = null) =>
        JsonSerializer.SerializeToUtf8Bytes(value, options ?? JsonSerializerOptions.Web);
}
