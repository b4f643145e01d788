using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using StackExchange.Redis;
using TaskQueue.Broker.Limits;
using TaskQueue.Broker.Storage;
using TaskQueue.Broker.Security;

namespace TaskQueue.Broker.Grpc;

/// <summary>
/// Maps failures to gRPC status codes in one place: bad input → INVALID_ARGUMENT (or RESOURCE_EXHAUSTED
/// for size limits), a limit → RESOURCE_EXHAUSTED (with a <c>retry-after</c> trailer when waiting helps),
/// Redis unreachable → UNAVAILABLE. A call that failed stored nothing it reported.
/// </summary>
internal sealed class ErrorMappingInterceptor(MalformedRequests malformed) : Interceptor
{
    /// <summary>The trailer that tells a refused caller how many whole seconds to wait before trying again.</summary>
    public const string RetryAfterTrailer = "retry-after";

    /// <summary>On UNAVAILABLE after a write the replicas did not acknowledge in time: "k/N", the replicas that did of those wanted.</summary>
    public const string ReplicaAcksTrailer = "taskqueue-replica-acks";

    /// <summary>With <see cref="ReplicaAcksTrailer"/> on a submit: the ids of the tasks the primary stored, comma-separated, in request order.</summary>
    public const string StoredTaskIdsTrailer = "taskqueue-stored-task-ids";

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

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
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
        catch (InvalidProtocolBufferException) when (!context.CancellationToken.IsCancellationRequested)
        {
            // A stream's messages are parsed inside the handler (a unary request's before it: MalformedRequests).
            malformed.Report(CallerIdentity.ConnectionOf(context), context.Method);
            throw MalformedRequests.Refusal();
        }
        catch (Exception ex) when (Map(ex) is { } mapped)
        {
            throw mapped;
        }
    }

    public static RpcException? Map(Exception exception) => exception switch
    {
        RpcException => null,
        LimitExceededException { RetryAfter: { } wait } e => new RpcException(
            new Status(StatusCode.ResourceExhausted, e.Message),
            new Metadata { { RetryAfterTrailer, Math.Max(1, (long)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture) } }),
        LimitExceededException e => new RpcException(new Status(StatusCode.ResourceExhausted, e.Message)),
        TaskValidationException { TooLarge: true } e => new RpcException(new Status(StatusCode.ResourceExhausted, e.Message)),
        TaskValidationException e => new RpcException(new Status(StatusCode.InvalidArgument, $"{e.Field}: {e.Message}")),
        ArgumentException e => new RpcException(new Status(StatusCode.InvalidArgument, e.Message)),
        ReplicaAckException e => new RpcException(
            new Status(StatusCode.Unavailable, e.Message + (e.Stored.Count > 0 ? " The tasks exist; submitting again with the same idempotency key returns them." : "")),
            ReplicaTrailers(e)),
        Schedules.ScheduleConflictException e => new RpcException(new Status(StatusCode.Aborted, e.Message)),
        RedisConnectionException or RedisTimeoutException =>
            new RpcException(new Status(StatusCode.Unavailable, "Redis is unavailable; nothing was stored. Retry later.")),
        RedisServerException e when e.Message.StartsWith("LOADING", StringComparison.Ordinal) || e.Message.StartsWith("READONLY", StringComparison.Ordinal) =>
            new RpcException(new Status(StatusCode.Unavailable, "Redis is not ready; nothing was stored. Retry later.")),
        ObjectDisposedException => new RpcException(new Status(StatusCode.Unavailable, "The broker is shutting down.")),
        _ => null,
    };

    private static Metadata ReplicaTrailers(ReplicaAckException e)
    {
        var trailers = new Metadata { { ReplicaAcksTrailer, $"{e.Acks.Acknowledged}/{e.Acks.Wanted}" } };
        if (e.Stored.Count > 0)
        {
            trailers.Add(StoredTaskIdsTrailer, string.Join(',', e.Stored.Select(r => r.Id.ToString())));
        }

        return trailers;
    }
}
