using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Wiring every TaskQueue service shares: OpenTelemetry, health checks, service discovery and HTTP resilience.
/// </summary>
public static class Extensions
{
    private const string HealthEndpointPath = "/health";
    private const string AlivenessEndpointPath = "/alive";

    /// <summary>Meter and ActivitySource names of the TaskQueue services; one each, constant.</summary>
    public static readonly string[] TaskQueueTelemetrySources =
    [
        "TaskQueue.Broker",
        "TaskQueue.Worker",
        "TaskQueue.Client",
    ];

    /// <param name="builder">The service's host builder.</param>
    /// <param name="traceOnlyWhenExporting">
    /// Record traces only when an OTLP endpoint is configured (a command-line client): a process that exports no
    /// traces then makes no sampling decision for the tasks it submits, the first one that exports does. Services
    /// keep tracing either way (false), as the benchmarks measure them.
    /// </param>
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder, bool traceOnlyWhenExporting = false) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry(traceOnlyWhenExporting);
        builder.AddDefaultHealthChecks();
        builder.Services.AddServiceDiscovery();

        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            // Standard resilience times out long-lived gRPC streams; gRPC clients opt out (see AddGrpcClient call sites).
            http.AddServiceDiscovery();
        });

        return builder;
    }

    /// <summary>OpenTelemetry for the service; <paramref name="traceOnlyWhenExporting"/> as in <see cref="AddServiceDefaults"/>.</summary>
    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder, bool traceOnlyWhenExporting = false) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource =>
            {
                // Replicas of a service must not share one identity. Aspire names each replica in
                // OTEL_RESOURCE_ATTRIBUTES; elsewhere (docker compose --scale) the host name does, and a
                // container's host name is its own.
                if (builder.Configuration["OTEL_RESOURCE_ATTRIBUTES"]?.Contains("service.instance.id=", StringComparison.Ordinal) != true)
                {
                    resource.AddAttributes([new KeyValuePair<string, object>("service.instance.id", Environment.MachineName)]);
                }
            })
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter(TaskQueueTelemetrySources));

        // Sampling is the SDK's own: OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (the AppHost's TraceSampling:Ratio sets
        // parentbased_traceidratio), read from configuration; unset, every span is kept. A CLI run from a terminal
        // (traceOnlyWhenExporting) records no traces, or it would mark every task it submits sampled and the
        // parent-based samplers downstream would keep them all.
        if (traceOnlyWhenExporting && !ExportsTelemetry(builder))
        {
            builder.AddOpenTelemetryExporters();
            return builder;
        }

        telemetry
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName)
                .AddSource(TaskQueueTelemetrySources)
                .AddAspNetCoreInstrumentation(options =>
                    options.Filter = context =>
                        !context.Request.Path.StartsWithSegments(HealthEndpointPath)
                        && !context.Request.Path.StartsWithSegments(AlivenessEndpointPath))
                .AddHttpClientInstrumentation()
                .AddProcessor(new BackgroundRedisSpanFilter()));

        // A burst of tasks makes several spans each: a deeper export queue than the SDK's 2,048 so a
        // 1,000-task demo is not cut short (OTEL_BSP_MAX_QUEUE_SIZE still wins when set).
        if (string.IsNullOrEmpty(builder.Configuration["OTEL_BSP_MAX_QUEUE_SIZE"]))
        {
            builder.Services.Configure<BatchExportActivityProcessorOptions>(options => options.MaxQueueSize = 32_768);
        }

        builder.AddOpenTelemetryExporters();
        return builder;
    }

    /// <summary>An OTLP endpoint is configured: the services export (to the Aspire dashboard or a collector).</summary>
    public static bool ExportsTelemetry(IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
    }

    private static TBuilder AddOpenTelemetryExporters<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        if (ExportsTelemetry(builder))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }

        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), ["live"]);
        return builder;
    }

    /// <summary>
    /// Maps /health (every check) and /alive (liveness only) in every environment: services run as
    /// Production under the orchestrator, and dependents wait on /health.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.MapHealthChecks(HealthEndpointPath);
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions
        {
            Predicate = registration => registration.Tags.Contains("live"),
        });
        return app;
    }
}
