using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace TaskQueue.Tests.Observability;

/// <summary>
/// The services' sampler (ServiceDefaults): the OpenTelemetry SDK's OTEL_TRACES_SAMPLER settings, as the AppHost's
/// TraceSampling:Ratio passes them. Each host listens to an ActivitySource of its own name, so no other test's listener counts.
/// </summary>
public sealed class TraceSamplingTests
{
    private static readonly ActivityContext s_sampledParent = new(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
    private static readonly ActivityContext s_unsampledParent = new(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.None);

    [Fact]
    public async Task At_ratio_0_no_trace_starts_but_a_span_whose_parent_was_sampled_is_kept_and_one_whose_parent_was_not_is_not()
    {
        var (root, sampledChild, unsampledChild) = await SampleAsync(new()
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9",
            ["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio",
            ["OTEL_TRACES_SAMPLER_ARG"] = "0",
        });

        Assert.False(root);
        Assert.True(sampledChild);
        Assert.False(unsampledChild);
    }

    [Fact]
    public async Task At_ratio_1_every_trace_starts_sampled()
    {
        var (root, sampledChild, _) = await SampleAsync(new()
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9",
            ["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio",
            ["OTEL_TRACES_SAMPLER_ARG"] = "1",
        });

        Assert.True(root);
        Assert.True(sampledChild);
    }

    [Fact]
    public async Task A_command_line_client_that_exports_no_traces_records_none_so_it_decides_nothing_for_the_tasks_it_submits()
    {
        var (root, sampledChild, _) = await SampleAsync([], traceOnlyWhenExporting: true);
        var (serviceRoot, _, _) = await SampleAsync([]);

        Assert.False(root);
        Assert.False(sampledChild);
        Assert.True(serviceRoot); // a service keeps tracing, exported or not
    }

    /// <summary>Whether a root span, a span under a sampled parent and one under an unsampled parent are recorded.</summary>
    private static async Task<(bool Root, bool SampledChild, bool UnsampledChild)> SampleAsync(Dictionary<string, string?> settings, bool traceOnlyWhenExporting = false)
    {
        var name = "sampling-" + Guid.NewGuid().ToString("N");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = name, DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.ConfigureOpenTelemetry(traceOnlyWhenExporting);
        using var host = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await host.StartAsync(timeout.Token);
        using var source = new ActivitySource(name);
        bool Recorded(Activity? activity)
        {
            using (activity)
            {
                return activity?.Recorded == true;
            }
        }

        var result = (
            Recorded(source.StartActivity("root")),
            Recorded(source.StartActivity("child", ActivityKind.Consumer, s_sampledParent)),
            Recorded(source.StartActivity("child", ActivityKind.Consumer, s_unsampledParent)));
        await host.StopAsync(timeout.Token);
        return result;
    }
}
