using System.Collections.Concurrent;
using System.Diagnostics;

namespace TaskQueue.Tests.Infrastructure;

/// <summary>
/// Notices when this machine stops running processes for a while: a thread of its own that wakes every
/// 50 ms and records every wake-up that came more than <see cref="Threshold"/> late. On a loaded 2-core CI
/// machine whole-second stalls happen (one of 6 s expired every 3 s lease of a healthy worker once); when a
/// stall outlasts the time a lease has to be renewed in, healthy leases may expire, and a fault test says so
/// instead of blaming the fault.
/// </summary>
internal sealed class StallWatch : IDisposable
{
    public static readonly TimeSpan Threshold = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_tick = TimeSpan.FromMilliseconds(50);

    private readonly ConcurrentQueue<TimeSpan> _stalls = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;

    public StallWatch()
    {
        _thread = new Thread(Watch) { IsBackground = true, Name = "stall watch", Priority = ThreadPriority.Highest };
        _thread.Start();
    }

    /// <summary>Every stall seen so far: how long the machine did not run this thread beyond its tick.</summary>
    public IReadOnlyCollection<TimeSpan> Stalls => _stalls;

    public TimeSpan Longest => _stalls.DefaultIfEmpty(TimeSpan.Zero).Max();

    public int CountLongerThan(TimeSpan limit) => _stalls.Count(s => s > limit);

    public override string ToString() => _stalls.IsEmpty
        ? "none"
        : $"{_stalls.Count}, longest {Longest.TotalMilliseconds:N0} ms";

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join(TimeSpan.FromSeconds(1));
        _stop.Dispose();
    }

    private void Watch()
    {
        var clock = Stopwatch.StartNew();
        while (!_stop.IsCancellationRequested)
        {
            var before = clock.Elapsed;
            _stop.Token.WaitHandle.WaitOne(s_tick);
            var late = clock.Elapsed - before - s_tick;
            if (late > Threshold)
            {
                _stalls.Enqueue(late);
            }
        }
    }
}
