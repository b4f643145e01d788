using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace TaskQueue.Tests.Infrastructure;

/// <summary>
/// The tests' one bounded wait: polls a condition until it holds, or fails after the timeout with a message that
/// names what was awaited (and, for <see cref="UntilAsync{T}"/>, the value last observed). Every wait in the tests
/// goes through here; only waits on a signal (a fake's own change notification) wait differently.
/// </summary>
public static class Eventually
{
    /// <summary>How often a condition is checked unless the caller says otherwise.</summary>
    public static readonly TimeSpan DefaultPoll = TimeSpan.FromMilliseconds(50);

    /// <summary>Polls until <paramref name="condition"/> holds; fails naming <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, TimeSpan? poll = null)
    {
        var (_, held) = await PollAsync(condition, done => done, timeout, poll);
        if (!held)
        {
            Assert.Fail($"Timed out after {Seconds(timeout)} s waiting until {what}.");
        }
    }

    /// <summary>Polls until <paramref name="condition"/> holds; fails naming <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static Task TrueAsync(Func<bool> condition, TimeSpan timeout, string what, TimeSpan? poll = null) =>
        TrueAsync(() => Task.FromResult(condition()), timeout, what, poll);

    /// <summary>
    /// Polls until <paramref name="condition"/> holds; on timeout fails with <paramref name="describe"/>, asked then
    /// (for a description of the state at that moment, such as a process's output).
    /// </summary>
    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> describe, TimeSpan? poll = null)
    {
        var (_, held) = await PollAsync(condition, done => done, timeout, poll);
        if (!held)
        {
            Assert.Fail($"Timed out after {Seconds(timeout)} s: {describe()}");
        }
    }

    /// <summary>
    /// Polls <paramref name="observe"/> until its value satisfies <paramref name="until"/> and returns that value;
    /// on timeout fails naming <paramref name="what"/> and the value last observed.
    /// </summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> observe, Func<T, bool> until, TimeSpan timeout, string what, TimeSpan? poll = null)
    {
        var (last, held) = await PollAsync(observe, until, timeout, poll);
        if (!held)
        {
            Assert.Fail($"Timed out after {Seconds(timeout)} s waiting until {what} (last observed: {Describe(last)}).");
        }

        return last;
    }

    /// <summary>
    /// Drives a fake clock: advances <paramref name="time"/> by <paramref name="step"/> between checks until
    /// <paramref name="condition"/> holds (for code that sleeps on that clock); fails naming <paramref name="what"/>
    /// after <paramref name="timeout"/> of real time.
    /// </summary>
    public static Task AdvancingUntilAsync(FakeTimeProvider time, TimeSpan step, Func<bool> condition, TimeSpan timeout, string what) =>
        TrueAsync(
            () =>
            {
                if (condition())
                {
                    return true;
                }

                time.Advance(step);
                return false;
            },
            timeout,
            $"{what} (advancing the fake clock by {step} a step)",
            s_fakeClockPoll);

    /// <summary>Real time between the steps of a fake clock: long enough for the code under test to run on.</summary>
    private static readonly TimeSpan s_fakeClockPoll = TimeSpan.FromMilliseconds(5);

    private static async Task<(T Last, bool Held)> PollAsync<T>(Func<Task<T>> observe, Func<T, bool> until, TimeSpan timeout, TimeSpan? poll)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var value = await observe();
            if (until(value))
            {
                return (value, true);
            }

            if (clock.Elapsed > timeout)
            {
                return (value, false);
            }

            await Task.Delay(poll ?? DefaultPoll);
        }
    }

    private static string Seconds(TimeSpan timeout) => timeout.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    private static string Describe<T>(T value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        System.Collections.IEnumerable items => "[" + string.Join(", ", items.Cast<object?>().Select(i => i?.ToString() ?? "null")) + "]",
        _ => value.ToString() ?? "",
    };
}
