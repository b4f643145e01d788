using StackExchange.Redis;

namespace TaskQueue.Broker.Storage;

/// <summary>
/// Reads due indexes (Scripts/due.lua): the one global index on a single Redis, or every used slot's in a cluster
/// (<see cref="RedisKeySpace.DueIndexesAsync"/>), one call per index, all sent at once. In a cluster the queues come
/// from the indexes in turn (the first due queue of each, then the second, ...), so a busy slot does not starve the
/// others, and a pass that could not take every due queue says the next is due at once.
/// </summary>
public static class DueIndexes
{
    /// <summary>The due queues of <paramref name="indexes"/>, at most <paramref name="max"/>, and when the next falls due.</summary>
    public static async Task<DueQueues> ReadAsync(IDatabaseAsync db, IReadOnlyList<RedisKey> indexes, long shift, int max)
    {
        var replies = await Task.WhenAll(indexes.Select(index => db.RunScriptAsync(ScriptLibrary.Due, [index], [shift, max])));
        if (replies.Length == 1)
        {
            var only = (RedisResult[])replies[0]!;
            var after = (long)only[0];
            return new DueQueues([.. only.Skip(1).Select(r => (string)r!)], after < 0 ? null : TimeSpan.FromMilliseconds(after));
        }

        var lists = replies.Select(r => (RedisResult[])r!).ToList();
        var queues = new List<string>(max);
        var left = false;
        for (var rank = 1; lists.Any(l => l.Length > rank); rank++)
        {
            foreach (var list in lists.Where(l => l.Length > rank))
            {
                if (queues.Count == max)
                {
                    left = true;
                    break;
                }

                queues.Add((string)list[rank]!);
            }
        }

        var nexts = lists.Select(l => (long)l[0]).Where(ms => ms >= 0).ToList();
        TimeSpan? next = left ? TimeSpan.Zero : nexts.Count == 0 ? null : TimeSpan.FromMilliseconds(nexts.Min());
        return new DueQueues(queues, next);
    }
}
