using Grpc.Core;
using Grpc.Core.Interceptors;
using TaskQueue.Broker.Grpc;
using TaskQueue.Protocol.V1;
using TaskQueue.Broker.Security;

namespace TaskQueue.Broker.Limits;

/// <summary>
/// Submit and SubmitBatch pass only within the caller's submit rate (<see cref="SubmitRateLimiter"/>); past it they
/// get RESOURCE_EXHAUSTED with a <c>retry-after</c> trailer, before anything reaches Redis. Other calls pass.
/// </summary>
internal sealed class SubmitRateInterceptor(SubmitRateLimiter limiter) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var tasks = request switch
        {
            SubmitRequest => 1,
            SubmitBatchRequest batch => batch.Tasks.Count,
            _ => 0,
        };
        if (tasks > 0)
        {
            try
            {
                limiter.Acquire(CallerIdentity.Of(context), tasks);
            }
            catch (LimitExceededException ex)
            {
                throw ErrorMappingInterceptor.Map(ex)!;
            }
        }

        return continuation(request, context);
    }
}
