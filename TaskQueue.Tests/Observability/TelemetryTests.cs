using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grpc.Net.Client;
using TaskQueue.Client;
using TaskQueue.Client.Diagnostics;
using TaskQueue.Tests.Distributed;
using TaskQueue.Tests.Infrastructure;
using WorkerStatuses = TaskQueue.Protocol.WorkerStatuses;

namespace TaskQueue.Tests.Observability;

/// <summary>
/// What a user sees in the dashboard, checked at the source: real broker and worker processes export
/// over OTLP to the test, the client runs in the test process under a listener.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class TelemetryTests
{
    private static readonly TimeSpan s_exportWait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_retried_task_is_one_trace_from_the_clients_create_through_every_wait_attempt_and_settlement()
    {
        await using var otlp = await OtlpReceiver.StartAsync();
        using var client = new ClientSpans();
        await using var cluster = await TaskQueueCluster.StartAsync(brokerSettings: otlp.ExportSettings("broker"));
        await cluster.StartBrokerAsync();
        var workerId = $"traced-{cluster.Queue}";
        cluster.StartWorker(workerId, concurrency: 2, settings: otlp.ExportSettings("worker"));
        await cluster.WaitForWorkersAsync(workerId);
        var channel = cluster.Channel(cluster.Brokers[0], cluster.AdminKey);

        var submitted = await new TaskQueueClient(channel).SubmitBatchAsync(
        [
            new TaskRequest { Queue = cluster.Queue, Type = "echo", Payload = "plain"u8.ToArray() },
            new TaskRequest { Queue = cluster.Queue, Type = "fail", Payload = "1"u8.ToArray() },
            new TaskRequest { Queue = cluster.Queue, Type = "fail", Payload = "9"u8.ToArray(), MaxAttempts = 2 },
        ]);
        var (plain, flaky, poison) = (submitted[0].TaskId, submitted[1].TaskId, submitted[2].TaskId);
        await cluster.WaitAllFinalAsync([plain, flaky, poison], TimeSpan.FromSeconds(30));
        var spans = await SpansAsync(otlp, s => s.Name == $"complete {cluster.Queue}" && (string?)s[Msg.Id] == flaky
                                                || s.Name == $"dead-letter {cluster.Queue}" && (string?)s[Msg.Id] == poison
                                                || s.Name == $"complete {cluster.Queue}" && (string?)s[Msg.Id] == plain);

        var create = client.Create(flaky);
        var send = client.Send();
        var trace = spans.Where(s => s.TraceId == create.TraceId.ToHexString()).ToList();
        Assert.Contains(create.SpanId.ToHexString(), send.Links.Select(l => l.Context.SpanId.ToHexString()));
        Assert.NotEqual(send.TraceId, create.TraceId);
        Assert.All(spans.Where(s => (string?)s[Msg.Id] == flaky), s => Assert.Equal(create.TraceId.ToHexString(), s.TraceId));
        Assert.All(trace, s => Assert.Equal(create.SpanId.ToHexString(), s.ParentSpanId));
        Assert.All(trace, s => Assert.Equal(cluster.Queue, s[Msg.Destination]));
        Assert.All(trace, s => Assert.Equal("taskqueue", s[Msg.System]));

        Assert.Equal(
            [("broker", "enqueue"), ("broker", "wait"), ("worker", "process"), ("broker", "retry"), ("broker", "wait"), ("worker", "process"), ("broker", "complete")],
            trace.OrderBy(s => s.Name.StartsWith("enqueue", StringComparison.Ordinal) ? 0 : 1).ThenBy(s => (long?)s[Attempt] ?? 0).ThenBy(Step)
                .Select(s => (s.Service, s.Name.Split(' ')[0])));
        var attempts = trace.Where(s => s.Name == $"process {cluster.Queue}").OrderBy(s => (long?)s[Attempt]).ToList();
        Assert.Equal([1L, 2L], attempts.Select(s => (long?)s[Attempt]));
        Assert.Equal(["failed", "completed"], attempts.Select(s => (string?)s["taskqueue.task.outcome"]));
        Assert.All(attempts, s => Assert.Equal(workerId, s["taskqueue.worker.id"]));
        Assert.All(attempts, s => Assert.Equal(ReceivedSpan.Consumer, s.Kind));
        var retry = Assert.Single(trace, s => s.Name == $"retry {cluster.Queue}");
        Assert.Equal(1L, retry[Attempt]);
        Assert.Contains("Planned failure", (string?)retry["taskqueue.task.error"], StringComparison.Ordinal);
        Assert.All(trace.Where(s => s.Name == $"wait {cluster.Queue}"), s => Assert.Equal(workerId, s["taskqueue.worker.id"]));

        var poisonTrace = spans.Where(s => s.TraceId == client.Create(poison).TraceId.ToHexString()).ToList();
        var deadLetter = Assert.Single(poisonTrace, s => s.Name == $"dead-letter {cluster.Queue}");
        Assert.Equal((2L, ReceivedSpan.StatusError), ((long?)deadLetter[Attempt], deadLetter.StatusCode));
        Assert.DoesNotContain(spans, s => s.TraceId == client.Create(plain).TraceId.ToHexString() && s.Name.StartsWith("retry", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_metrics_move_by_exactly_what_happened_per_queue_and_task_type()
    {
        await using var otlp = await OtlpReceiver.StartAsync();
        using var sent = new SentCounter();
        await using var cluster = await TaskQueueCluster.StartAsync(brokerSettings: otlp.ExportSettings("broker"));
        await cluster.StartBrokerAsync();
        var workerId = $"metered-{cluster.Queue}";
        cluster.StartWorker(workerId, concurrency: 2, settings: otlp.ExportSettings("worker"));
        await cluster.WaitForWorkersAsync(workerId);
        var channel = cluster.Channel(cluster.Brokers[0], cluster.AdminKey);

        // 5 echoes, a task that fails once, one that fails both its attempts: 9 attempts.
        var requests = Enumerable.Range(0, 5).Select(i => new TaskRequest { Queue = cluster.Queue, Type = "echo", Payload = new[] { (byte)i } })
            .Append(new TaskRequest { Queue = cluster.Queue, Type = "fail", Payload = "1"u8.ToArray() })
            .Append(new TaskRequest { Queue = cluster.Queue, Type = "fail", Payload = "9"u8.ToArray(), MaxAttempts = 2 })
            .ToList();
        var submitted = await new TaskQueueClient(channel).SubmitBatchAsync(requests);
        await cluster.WaitAllFinalAsync([.. submitted.Select(s => s.TaskId)], TimeSpan.FromSeconds(30));

        var q = cluster.Queue;
        bool Of(IReadOnlyDictionary<string, object?> a, string type) => (string?)a.GetValueOrDefault(Msg.Destination) == q && (string?)a.GetValueOrDefault("taskqueue.task.type") == type;
        bool Queue(IReadOnlyDictionary<string, object?> a) => (string?)a.GetValueOrDefault(Msg.Destination) == q;
        bool State(IReadOnlyDictionary<string, object?> a, string state) => Queue(a) && (string?)a.GetValueOrDefault("taskqueue.task.state") == state;
        var expected = new (string Service, string Metric, Func<IReadOnlyDictionary<string, object?>, bool> Match, double Value)[]
        {
            ("broker", "taskqueue.tasks.submitted", a => Of(a, "echo"), 5),
            ("broker", "taskqueue.tasks.submitted", a => Of(a, "fail"), 2),
            ("broker", "taskqueue.tasks.completed", a => Of(a, "echo"), 5),
            ("broker", "taskqueue.tasks.completed", a => Of(a, "fail"), 1),
            ("broker", "taskqueue.tasks.failed", a => Of(a, "fail"), 3),
            ("broker", "taskqueue.tasks.retried", a => Of(a, "fail"), 2),
            ("broker", "taskqueue.tasks.dead_lettered", a => Of(a, "fail"), 1),
            ("broker", "taskqueue.tasks.dispatched", Queue, 9),
            ("broker", "taskqueue.queue.depth", a => State(a, "dead_lettered"), 1),
            ("broker", "taskqueue.queue.depth", a => State(a, "ready"), 0),
            ("broker", "taskqueue.workers", a => (string?)a.GetValueOrDefault("taskqueue.worker.status") is WorkerStatuses.Idle or WorkerStatuses.Busy, 1),
            ("broker", "taskqueue.worker.slots", _ => true, 2),
        };
        var histograms = new (string Service, string Metric, Func<IReadOnlyDictionary<string, object?>, bool> Match, long Count)[]
        {
            ("broker", "taskqueue.task.queue_wait", Queue, 9),
            ("broker", "taskqueue.task.execution", Queue, 9),
            ("worker", "messaging.process.duration", Queue, 9),
        };

        await Eventually.TrueAsync(
            () => Task.FromResult(
                expected.All(e => otlp.Received.Latest(e.Service, e.Metric, e.Match) == e.Value)
                && histograms.All(h => otlp.Received.HistogramCount(h.Service, h.Metric, h.Match) == h.Count)),
            s_exportWait,
            () => string.Join('\n', expected.Select(e => $"{e.Service} {e.Metric}: {otlp.Received.Latest(e.Service, e.Metric, e.Match)} (expected {e.Value})")
                .Concat(histograms.Select(h => $"{h.Service} {h.Metric} count: {otlp.Received.HistogramCount(h.Service, h.Metric, h.Match)} (expected {h.Count})"))));
        Assert.Equal(7, sent.Total(q));
        Assert.Equal(0, otlp.Received.Latest("broker", "taskqueue.reports.stale", Queue));
    }

    private static int Step(ReceivedSpan span) => span.Name.Split(' ')[0] switch
    {
        "wait" => 0,
        "process" => 1,
        _ => 2,
    };

    private const string Attempt = "taskqueue.task.attempt";

    private static async Task<IReadOnlyList<ReceivedSpan>> SpansAsync(OtlpReceiver otlp, Func<ReceivedSpan, bool> last)
    {
        await Eventually.TrueAsync(
            () => Task.FromResult(otlp.Received.Spans.Count(last) == 3),
            s_exportWait,
            () => "spans received:\n" + string.Join('\n', otlp.Received.Spans.Select(s => $"{s.Service} {s.Name} {s[Msg.Id]} attempt {s[Attempt]}")));
        // The workers' process spans end before the broker settles: they are exported by then too, but allow a flush.
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        return otlp.Received.Spans;
    }

    private static class Msg
    {
        public const string Id = "messaging.message.id";
        public const string Destination = "messaging.destination.name";
        public const string System = "messaging.system";
    }

    /// <summary>The client's spans, in this process.</summary>
    private sealed class ClientSpans : IDisposable
    {
        private readonly ConcurrentQueue<Activity> _stopped = new();
        private readonly ActivityListener _listener;

        public ClientSpans()
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name == ClientTelemetry.Name,
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = _stopped.Enqueue,
            };
            ActivitySource.AddActivityListener(_listener);
        }

        public Activity Create(string taskId) =>
            Assert.Single(_stopped, a => a.OperationName.StartsWith("create ", StringComparison.Ordinal) && (string?)a.GetTagItem(Msg.Id) == taskId);

        public Activity Send() => Assert.Single(_stopped, a => a.OperationName.StartsWith("send ", StringComparison.Ordinal));

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>The client's sent-messages counter, in this process.</summary>
    private sealed class SentCounter : IDisposable
    {
        private readonly ConcurrentDictionary<string, long> _byQueue = new(StringComparer.Ordinal);
        private readonly MeterListener _listener = new();

        public SentCounter()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == ClientTelemetry.Name && instrument.Name == ClientTelemetry.TasksSubmittedInstrument)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == Msg.Destination && tag.Value is string queue)
                    {
                        _byQueue.AddOrUpdate(queue, value, (_, total) => total + value);
                    }
                }
            });
            _listener.Start();
        }

        public long Total(string queue) => _byQueue.GetValueOrDefault(queue);

        public void Dispose() => _listener.Dispose();
    }
}
