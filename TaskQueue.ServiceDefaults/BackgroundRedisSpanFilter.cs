using System.Diagnostics;
using OpenTelemetry;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Keeps Redis command spans only inside a trace: a background loop's commands (the reaper's and the
/// promoter's ticks, the gauges' reads) would otherwise each start a trace of their own, several a second,
/// burying the tasks' traces in the dashboard and crowding them out of the export queue.
/// </summary>
internal sealed class BackgroundRedisSpanFilter : BaseProcessor<Activity>
{
    private const string RedisSource = "OpenTelemetry.Instrumentation.StackExchangeRedis";

    public override void OnEnd(Activity data)
    {
        if (data.Source.Name == RedisSource && data.ParentSpanId == default)
        {
            // Exporting processors skip spans that are not recorded.
            data.ActivityTraceFlags &= ~ActivityTraceFlags.Recorded;
        }
    }
}
