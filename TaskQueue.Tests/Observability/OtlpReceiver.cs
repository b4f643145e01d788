using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using TaskQueue.Tests.Fakes;
using TaskQueue.Tests.Observability.Otlp;
using TaskQueue.Tests.Worker;

namespace TaskQueue.Tests.Observability;

/// <summary>A span as a service exported it over OTLP, with its ids in hex.</summary>
internal sealed record ReceivedSpan(
    string Service,
    string Scope,
    string TraceId,
    string SpanId,
    string ParentSpanId,
    string Name,
    int Kind,
    IReadOnlyDictionary<string, object?> Attributes,
    IReadOnlyList<string> LinkedSpanIds,
    int StatusCode)
{
    public const int Consumer = 5;
    public const int Producer = 4;
    public const int StatusError = 2;

    public object? this[string attribute] => Attributes.GetValueOrDefault(attribute);
}

/// <summary>
/// An OTLP/gRPC endpoint in the test process: broker and worker processes export their spans and metrics
/// to it (OTEL_EXPORTER_OTLP_ENDPOINT), and the test reads what arrived.
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly GrpcTestServer _server;

    private OtlpReceiver(GrpcTestServer server, Store store)
    {
        _server = server;
        Received = store;
    }

    public Store Received { get; }

    public static async Task<OtlpReceiver> StartAsync()
    {
        var store = new Store();
        var server = await GrpcTestServer.StartAsync(
            services => services.AddSingleton(store),
            app =>
            {
                app.MapGrpcService<TraceEndpoint>();
                app.MapGrpcService<MetricsEndpoint>();
                app.MapGrpcService<LogsEndpoint>();
            });
        return new OtlpReceiver(server, store);
    }

    /// <summary>The environment that makes a service export here, often enough for a test to wait on.</summary>
    public Dictionary<string, string> ExportSettings(string serviceName) => new()
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = _server.Address.ToString().TrimEnd('/'),
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc",
        ["OTEL_SERVICE_NAME"] = serviceName,
        ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
    };

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    internal sealed class Store
    {
        private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
        private readonly ConcurrentQueue<(string Service, Metric Metric)> _metrics = new();

        public IReadOnlyList<ReceivedSpan> Spans => [.. _spans];

        public void Add(ExportTraceServiceRequest request)
        {
            foreach (var resource in request.ResourceSpans)
            {
                var service = ServiceName(resource.Resource);
                foreach (var scope in resource.ScopeSpans)
                {
                    foreach (var span in scope.Spans)
                    {
                        _spans.Enqueue(new ReceivedSpan(
                            service,
                            scope.Scope?.Name ?? "",
                            Convert.ToHexStringLower(span.TraceId.Span),
                            Convert.ToHexStringLower(span.SpanId.Span),
                            Convert.ToHexStringLower(span.ParentSpanId.Span),
                            span.Name,
                            span.Kind,
                            Attributes(span.Attributes),
                            [.. span.Links.Select(l => Convert.ToHexStringLower(l.SpanId.Span))],
                            span.Status?.Code ?? 0));
                    }
                }
            }
        }

        public void Add(ExportMetricsServiceRequest request)
        {
            foreach (var resource in request.ResourceMetrics)
            {
                var service = ServiceName(resource.Resource);
                foreach (var metric in resource.ScopeMetrics.SelectMany(s => s.Metrics))
                {
                    _metrics.Enqueue((service, metric));
                }
            }
        }

        /// <summary>
        /// The latest value of a counter or gauge for every attribute set that matches, summed (the SDK
        /// exports cumulative sums: the latest point holds the total).
        /// </summary>
        public double Latest(string service, string metric, Func<IReadOnlyDictionary<string, object?>, bool> match)
        {
            var latest = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var (from, received) in _metrics)
            {
                if (from != service || received.Name != metric)
                {
                    continue;
                }

                var points = received.DataCase switch
                {
                    Metric.DataOneofCase.Sum => received.Sum.DataPoints,
                    Metric.DataOneofCase.Gauge => received.Gauge.DataPoints,
                    _ => [],
                };
                foreach (var point in points)
                {
                    var attributes = Attributes(point.Attributes);
                    if (match(attributes))
                    {
                        latest[Key(attributes)] = point.ValueCase == NumberDataPoint.ValueOneofCase.AsInt ? point.AsInt : point.AsDouble;
                    }
                }
            }

            return latest.Values.Sum();
        }

        /// <summary>How many values a histogram holds, over every matching attribute set (latest point of each).</summary>
        public long HistogramCount(string service, string metric, Func<IReadOnlyDictionary<string, object?>, bool> match)
        {
            var latest = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var (from, received) in _metrics)
            {
                if (from != service || received.Name != metric || received.DataCase != Metric.DataOneofCase.Histogram)
                {
                    continue;
                }

                foreach (var point in received.Histogram.DataPoints)
                {
                    var attributes = Attributes(point.Attributes);
                    if (match(attributes))
                    {
                        latest[Key(attributes)] = (long)point.Count;
                    }
                }
            }

            return latest.Values.Sum();
        }

        public IReadOnlySet<string> MetricNames(string service) =>
            _metrics.Where(m => m.Service == service).Select(m => m.Metric.Name).ToHashSet(StringComparer.Ordinal);

        private static string ServiceName(Resource? resource) =>
            resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value.StringValue ?? "";

        private static Dictionary<string, object?> Attributes(IEnumerable<KeyValue> attributes) =>
            attributes.ToDictionary(
                a => a.Key,
                a => a.Value?.ValueCase switch
                {
                    AnyValue.ValueOneofCase.StringValue => a.Value.StringValue,
                    AnyValue.ValueOneofCase.BoolValue => a.Value.BoolValue,
                    AnyValue.ValueOneofCase.IntValue => a.Value.IntValue,
                    AnyValue.ValueOneofCase.DoubleValue => (object?)a.Value.DoubleValue,
                    _ => null,
                },
                StringComparer.Ordinal);

        private static string Key(IReadOnlyDictionary<string, object?> attributes) =>
            string.Join('|', attributes.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key}={a.Value}"));
    }

    private sealed class TraceEndpoint(Store store) : TraceService.TraceServiceBase
    {
        public override Task<ExportTraceServiceResponse> Export(ExportTraceServiceRequest request, ServerCallContext context)
        {
            store.Add(request);
            return Task.FromResult(new ExportTraceServiceResponse());
        }
    }

    private sealed class MetricsEndpoint(Store store) : MetricsService.MetricsServiceBase
    {
        public override Task<ExportMetricsServiceResponse> Export(ExportMetricsServiceRequest request, ServerCallContext context)
        {
            store.Add(request);
            return Task.FromResult(new ExportMetricsServiceResponse());
        }
    }

    private sealed class LogsEndpoint : LogsService.LogsServiceBase
    {
        public override Task<ExportLogsServiceResponse> Export(ExportLogsServiceRequest request, ServerCallContext context) =>
            Task.FromResult(new ExportLogsServiceResponse());
    }
}
