using Grpc.AspNetCore.Server;
using Grpc.AspNetCore.Server.Model;
using TaskQueue.Broker.Audit;
using TaskQueue.Broker.Extensions;
using TaskQueue.Broker.Grpc;

namespace TaskQueue.Broker.Limits;

/// <summary>Wiring of the abuse limits, the audit trail and the guard against requests that are not protobuf.</summary>
internal static class LimitsExtensions
{
    /// <summary>
    /// Options "TaskQueue:Limits" and "TaskQueue:Audit" (validated on start), the submit rate limiter (a gRPC
    /// interceptor), the Wait slots, the audit trail, and TaskService's methods bound with parsing that answers
    /// INVALID_ARGUMENT (<see cref="ParsingGuardMethodProvider"/>).
    /// </summary>
    public static IServiceCollection AddAbuseLimitsAndAudit(this IServiceCollection services)
    {
        services.AddValidatedOptions<LimitOptions>(LimitOptions.SectionName, options => options.Validate());
        services.AddValidatedOptions<AuditOptions>(AuditOptions.SectionName, options => options.Validate());
        services.AddSingleton<WaitSlots>();
        services.AddSingleton<SubmitRateLimiter>();
        services.AddSingleton<AuditTrail>();
        services.AddHttpContextAccessor();
        services.AddSingleton<MalformedRequests>();
        services.AddSingleton<IServiceMethodProvider<TaskApiService>, ParsingGuardMethodProvider>();
        services.Configure<GrpcServiceOptions>(grpc => grpc.Interceptors.Add<SubmitRateInterceptor>());
        return services;
    }
}
