namespace TaskQueue.Protocol;

/// <summary>
/// Limits of the taskqueue.v1 protocol that the broker, the worker and the client must agree on. One source
/// file, compiled into each of them (protos/Shared), so the libraries depend on no broker assembly.
/// </summary>
internal static class ProtocolLimits
{
    /// <summary>
    /// The largest gRPC message the broker receives or sends: room for a batch of large payloads (a single
    /// payload over the store's limit is refused by validation, not by the transport).
    /// </summary>
    public const int MaxMessageBytes = 16 * 1024 * 1024;

    /// <summary>The longest error text of a failed attempt: the worker cuts longer ones, the broker too.</summary>
    public const int MaxErrorLength = 4096;

    /// <summary>The error of an attempt whose result is over the broker's limit (the worker and the broker word it alike).</summary>
    public static string ResultTooLarge(long size, long limit) =>
        $"the result is {size} bytes, over the limit of {limit} bytes (TaskQueue:Store:MaxResultBytes): not stored";

    /// <summary>Cuts <paramref name="error"/> to <see cref="MaxErrorLength"/> characters.</summary>
    public static string TruncateError(string error) => error.Length <= MaxErrorLength ? error : error[..MaxErrorLength];
}
