using StackExchange.Redis;

namespace TaskQueue.Broker.Storage;

/// <summary>
/// Rides out a Redis Cluster slot migration: a command whose keys are split between the two nodes for the moment
/// gets <c>TRYAGAIN</c>, which StackExchange.Redis passes on (it follows <c>MOVED</c> and <c>ASK</c> itself). Redis ran
/// nothing of such a command, so sending it again is safe; the store's scripts meet it while their slot moves
/// (<see cref="RedisKeySpace"/>). Bounded: after about five seconds of TRYAGAIN the error goes to the caller.
/// </summary>
public static class RedisRetry
{
    private const int Tries = 60;

    /// <summary>
    /// Runs a script (<see cref="IDatabaseAsync.ScriptEvaluateAsync(string, RedisKey[], RedisValue[], CommandFlags)"/>),
    /// again on TRYAGAIN, waiting between tries on <paramref name="time"/> (default the system's clock).
    /// </summary>
    public static Task<RedisResult> RunScriptAsync(
        this IDatabaseAsync db, string script, RedisKey[] keys, RedisValue[]? values = null, CommandFlags flags = CommandFlags.None, TimeProvider? time = null) =>
        OnTryAgainAsync(() => db.ScriptEvaluateAsync(script, keys, values, flags), time);

    /// <summary>Calls <paramref name="call"/> again while it fails with TRYAGAIN, a little longer each time (on <paramref name="time"/>: default the system's clock).</summary>
    public static async Task<T> OnTryAgainAsync<T>(Func<Task<T>> call, TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (RedisServerException e) when (attempt < Tries && IsTryAgain(e))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(10 * attempt, 100)), time);
            }
        }
    }

    private static bool IsTryAgain(RedisServerException e) =>
        e.Message.StartsWith("TRYAGAIN", StringComparison.Ordinal)
        || (e.Message.StartsWith("EXECABORT", StringComparison.Ordinal) && e.Message.Contains("TRYAGAIN", StringComparison.Ordinal));
}
