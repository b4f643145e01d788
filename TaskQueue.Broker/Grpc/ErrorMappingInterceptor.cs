using Grpc.Core;
using Grpc.Core.Interceptors;
using StackExchange.Redis;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Grpc;

/// <summary>
/// Maps failures to gRPC status codes in one place: bad input → INVALID_ARGUMENT (or RESOURCE_EXHAUSTED
/// for size limits), Redis unreachable → UNAVAILABLE. A call that failed stored nothing it reported.
/// </summary>
internal sealed class ErrorMappingInterceptor : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (Exception ex) when (Map(ex) is { } mapped)
        {
            throw mapped;
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(requestStream, responseStream, context);
        }
        catch (Exception ex) when (Map(ex) is { } mapped)
        {
            throw mapped;
        }
    }

    public static RpcException? Map(Exception exception) => exception switch
    {
        RpcException => null,
        TaskValidationException { TooLarge: true } e => new RpcException(new Status(StatusCode.ResourceExhausted, e.Message)),
        TaskValidationException e => new RpcException(new Status(StatusCode.InvalidArgument, $"{e.Field}: {e.Message}")),
        ArgumentException e => new RpcException(new Status(StatusCode.InvalidArgument, e.Message)),
        RedisConnectionException or RedisTimeoutException =>
            new RpcException(new Status(StatusCode.Unavailable, "Redis is unavailable; nothing was stored. Retry later.")),
        RedisServerException e when e.Message.StartsWith("LOADING", StringComparison.Ordinal) || e.Message.StartsWith("READONLY", StringComparison.Ordinal) =>
            new RpcException(new Status(StatusCode.Unavailable, "Redis is not ready; nothing was stored. Retry later.")),
        ObjectDisposedException => new RpcException(new Status(StatusCode.Unavailable, "The broker is shutting down.")),
        _ => null,
    };
}
