using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace TaskQueue.Worker.Handlers;

/// <summary>Helpers to build the results of <see cref="ITaskHandler"/> handlers.</summary>
public static class TaskResults
{
    /// <summary>No result.</summary>
    public static ReadOnlyMemory<byte> Empty => ReadOnlyMemory<byte>.Empty;

    /// <summary>A result of <paramref name="text"/> as UTF-8.</summary>
    /// <param name="text">The result text.</param>
    public static ReadOnlyMemory<byte> FromText(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>A result of <paramref name="value"/> as JSON (web defaults: camelCase).</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="value">The result.</param>
    /// <param name="options">JSON settings; null for <see cref="JsonSerializerOptions.Web"/>.</param>
    public static ReadOnlyMemory<byte> FromJson<T>(T value, JsonSerializerOptions? options = null) =>
        JsonSerializer.SerializeToUtf8Bytes(value, options ?? JsonSerializerOptions.Web);

    /// <summary>A result of <paramref name="value"/> as JSON, with a source-generated type info.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="value">The result.</param>
    /// <param name="typeInfo">The type's JSON contract, for example <c>MyJsonContext.Default.MyResult</c>.</param>
    public static ReadOnlyMemory<byte> FromJson<T>(T value, JsonTypeInfo<T> typeInfo) =>
        JsonSerializer.SerializeToUtf8Bytes(value, typeInfo);
}
