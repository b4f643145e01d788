namespace TaskQueue.Tests.AppHost;

/// <summary>
/// Tests that start the whole system through the AppHost. They run one at a time and apart from the rest of
/// the suite (each app is a dozen processes; on a 2-core machine shared with other tests timings would lie),
/// and share one app started as the AppHost defines it by default (<see cref="SharedApp"/>).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AppHostCollection : ICollectionFixture<SharedApp>
{
    public const string Name = "AppHost";
}

/// <summary>
/// The AppHost's defaults — one broker, four worker replicas on the "default" queue, the demo client — on a
/// local redis-server in a temporary directory; only the broker's fault timings are shortened (through the
/// AppHost's configuration) so faults settle in seconds. Started once for the collection; ready when every
/// replica is connected and the demo client has finished. Tests share the queue, one at a time, and count deltas.
/// </summary>
public sealed class SharedApp : IAsyncLifetime
{
    public const int Workers = 4;

    /// <summary>
    /// Leases keep their 30 s default (long enough to ride out a broker restart); a broken stream frees its leases
    /// after 1 s, retries back off 0.1–0.5 s, and a quarantine lasts 5 s instead of 5 minutes so one test's fault
    /// cannot starve the next.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> FaultSettings = new Dictionary<string, string>
    {
        ["TaskQueue:Broker:DisconnectGrace"] = "00:00:01",
        ["TaskQueue:Broker:ReapInterval"] = "00:00:00.200",
        ["TaskQueue:Broker:QuarantineDuration"] = "00:00:05",
        ["TaskQueue:Store:BackoffInitial"] = "00:00:00.100",
        ["TaskQueue:Store:BackoffMax"] = "00:00:00.500",
    };

    private TaskQueueApp? _app;

    internal TaskQueueApp App => _app ?? throw new InvalidOperationException("The app has not started.");

    /// <summary>The demo client's final snapshot (it runs once, at start).</summary>
    internal Aspire.Hosting.ApplicationModel.ResourceEvent? DemoClient { get; private set; }

    /// <summary>The queue's counters when the demo client had finished, before any test ran.</summary>
    internal Broker.Storage.QueueCounts? AfterDemo { get; private set; }

    public async Task InitializeAsync()
    {
        _app = await TaskQueueApp.StartAsync(Workers, FaultSettings, demo: true);
        DemoClient = await _app.WaitForFinishedAsync("client", TimeSpan.FromMinutes(3));
        AfterDemo = await _app.CountsAsync();
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }
}
