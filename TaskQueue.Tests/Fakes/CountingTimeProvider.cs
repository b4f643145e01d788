using Microsoft.Extensions.Time.Testing;

namespace TaskQueue.Tests.Fakes;

/// <summary>A fake clock that counts the timers made on it: a test can tell when a loop went to sleep on it.</summary>
internal sealed class CountingTimeProvider(DateTimeOffset start) : FakeTimeProvider(start)
{
    private int _timers;

    public int TimersCreated => Volatile.Read(ref _timers);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        Interlocked.Increment(ref _timers);
        return base.CreateTimer(callback, state, dueTime, period);
    }
}
