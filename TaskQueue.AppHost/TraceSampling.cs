using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace TaskQueue.AppHost;

/// <summary>
/// What share of tasks every service traces (configuration <c>TraceSampling:Ratio</c>, 0 to 1, default 1: every
/// span). It reaches each service that exports telemetry as the OpenTelemetry SDK's own settings,
/// <c>OTEL_TRACES_SAMPLER=parentbased_traceidratio</c> and <c>OTEL_TRACES_SAMPLER_ARG=ratio</c>: the first process
/// that records a task's trace decides by its trace id, and every later span (broker, worker) follows its parent's
/// decision, so a sampled task keeps its whole trace and an unsampled one costs the dashboard nothing.
/// </summary>
public static class TraceSampling
{
    public const string RatioKey = "TraceSampling:Ratio";

    /// <summary>The OpenTelemetry SDK's sampler variables (the SDK reads them through configuration).</summary>
    public const string SamplerVariable = "OTEL_TRACES_SAMPLER";

    public const string SamplerArgumentVariable = "OTEL_TRACES_SAMPLER_ARG";

    public const string ParentBasedRatio = "parentbased_traceidratio";

    /// <summary>The configured ratio; throws naming the setting when it is not a number from 0 to 1.</summary>
    public static double ReadRatio(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var raw = configuration[RatioKey];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return 1.0;
        }

        return double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var ratio) && ratio is >= 0 and <= 1
            ? ratio
            : throw new InvalidOperationException($"Setting '{RatioKey}' must be a number from 0 to 1 (0.01 traces one task in a hundred); it is '{raw}'.");
    }

    /// <summary>
    /// Gives every resource that exports to the dashboard (brokers, workers, the client) the parent-based ratio
    /// sampler. Call after adding them: it overrides the <c>always_on</c> the AppHost sets for them in Development.
    /// </summary>
    public static IDistributedApplicationBuilder WithTraceSampling(this IDistributedApplicationBuilder builder, double ratio)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var argument = ratio.ToString("0.######", CultureInfo.InvariantCulture);
        foreach (var resource in builder.Resources.OfType<IResourceWithEnvironment>().Where(r => r.Annotations.OfType<OtlpExporterAnnotation>().Any()))
        {
            resource.Annotations.Add(new EnvironmentCallbackAnnotation(context =>
            {
                context.EnvironmentVariables[SamplerVariable] = ParentBasedRatio;
                context.EnvironmentVariables[SamplerArgumentVariable] = argument;
            }));
        }

        return builder;
    }
}
