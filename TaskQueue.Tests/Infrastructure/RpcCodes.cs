using Grpc.Core;

namespace TaskQueue.Tests.Infrastructure;

/// <summary>The gRPC status a call ends with, for tests that compare refusals.</summary>
internal static class RpcCodes
{
    /// <summary>OK when <paramref name="call"/> returns, else the status code of the <see cref="RpcException"/> it threw.</summary>
    public static async Task<StatusCode> Of(Func<Task> call)
    {
        try
        {
            await call();
            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }
}
