using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using StackExchange.Redis;
using TaskQueue.Broker.Listing;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TaskQueue.Tests.Listing;

/// <summary>
/// ListTasks is bounded: on a queue of 1,000,000 ready tasks one call runs the same Redis commands as on a queue of
/// 100, and no command inside it asks for more than one page of entries (checked with MONITOR, which shows every
/// command a script runs with its arguments). Latencies are printed, never asserted.
/// </summary>
public sealed partial class ListingBoundTests(ITestOutputHelper output)
{
    private const int Million = 1_000_000;
    private const int Limit = 100;
    private const int Chunk = 20_000;

    // A fixture loader, not a transition: ready tasks with the fields a listing reads, their stream entries, and (only to
    // measure the sorted-set path) the same ids in the scheduled set, 1,000 to a score so the cursor search meets ties.
    private const string Loader = """
        local stream, scheduled, task_prefix = KEYS[1], KEYS[2], KEYS[3]
        local from, to, now, queue, every = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
        local marks, sid = {}, ''
        local scores = {}
        for i = from, to do
          local id = string.format('%032x', i)
          sid = redis.call('XADD', stream, '*', 'id', id)
          redis.call('HSET', task_prefix .. id, 'state', 'ready', 'token', '', 'sid', sid, 'prio', 0, 'attempt', 0,
            'worker', '', 'ikey', '', 'expires', 0, 'type', 'echo', 'max', 3, 'timeout', 0, 'tp', '', 'ts', '', 'cancel', '0',
            'created', now, 'due', now, 'id', id, 'queue', queue, 'payload', 'some payload that is never read', 'enqueued', now)
          scores[#scores + 1] = now + math.floor(i / 1000)
          scores[#scores + 1] = id
          if #scores >= 2000 then
            redis.call('ZADD', scheduled, unpack(scores))
            scores = {}
          end
          if i % every == 0 then marks[#marks + 1] = sid end
        end
        if #scores > 0 then redis.call('ZADD', scheduled, unpack(scores)) end
        return marks
        """;

    [Fact]
    public async Task A_page_of_a_million_queued_tasks_costs_what_a_page_of_a_hundred_does()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = redis.Connection.GetDatabase();
        var lister = new TaskLister(redis.Connection);
        var small = "small-" + Guid.NewGuid().ToString("N")[..8];
        var large = "large-" + Guid.NewGuid().ToString("N")[..8];
        var smallMarks = await LoadAsync(db, small, 100, 50);
        var load = Stopwatch.StartNew();
        var marks = await LoadAsync(db, large, Million, 10_000);
        output.WriteLine($"loaded {Million:N0} ready tasks in {load.Elapsed.TotalSeconds:0.0} s ({(await db.ExecuteAsync("INFO", "memory")).ToString().Split('\n').First(l => l.StartsWith("used_memory_human", StringComparison.Ordinal)).Trim()})");
        Assert.Equal(Million, await db.StreamLengthAsync(RedisKeys.Ready(large, 0)));

        var queries = new (string What, TaskListQuery Small, TaskListQuery Large)[]
        {
            ("ready, first page, newest first", new(small, TaskState.Ready) { Limit = Limit }, new(large, TaskState.Ready) { Limit = Limit }),
            ("ready, first page, oldest first", new(small, TaskState.Ready) { Limit = Limit, OldestFirst = true }, new(large, TaskState.Ready) { Limit = Limit, OldestFirst = true }),
            ("ready, a page from the middle", new(small, TaskState.Ready) { Limit = Limit, OldestFirst = true, Cursor = ReadyCursor(smallMarks[0]) },
                new(large, TaskState.Ready) { Limit = Limit, OldestFirst = true, Cursor = ReadyCursor(marks[marks.Count / 2]) }),
            ("scheduled, first page", new(small, TaskState.Scheduled) { Limit = Limit }, new(large, TaskState.Scheduled) { Limit = Limit }),
        };

        // Latencies first: MONITOR slows every command down.
        var latencies = new List<(double Small, double Large)>();
        foreach (var (_, smallQuery, largeQuery) in queries)
        {
            latencies.Add((await MedianAsync(() => lister.ListAsync(smallQuery)), await MedianAsync(() => lister.ListAsync(largeQuery))));
        }

        await using var monitor = await Monitor.StartAsync(redis.Port);
        foreach (var ((what, smallQuery, largeQuery), (smallLatency, largeLatency)) in queries.Zip(latencies))
        {
            var (_, smallCommands) = await monitor.CommandsOfAsync(db, () => lister.ListAsync(smallQuery));
            var (largePage, largeCommands) = await monitor.CommandsOfAsync(db, () => lister.ListAsync(largeQuery));
            output.WriteLine(
                $"{what}: 100 queued {smallLatency:0.00} ms, {Million:N0} queued {largeLatency:0.00} ms (median of 15); " +
                $"Redis commands in the call: {smallCommands.Count} and {largeCommands.Count}");

            Assert.Equal(Limit, largePage.Tasks.Count);
            Assert.NotNull(largePage.NextCursor);
            AssertBounded(what, largeCommands);
            if (what.Contains("first page", StringComparison.Ordinal))
            {
                // A full page costs the same commands on both: nothing in the call grows with the queue.
                Assert.Equal(Census(smallCommands), Census(largeCommands));
            }
        }

        // The cursor search among equal scores reads single entries: about log2 of the ties, never the ties themselves.
        var middle = await db.SortedSetRangeByRankWithScoresAsync(RedisKeys.Scheduled(large), Million / 2, Million / 2);
        var cursor = new ListCursor(middle[0].Score.ToString("R", CultureInfo.InvariantCulture), (string)middle[0].Element!).Encode("scheduled", oldestFirst: true);
        var (deep, deepCommands) = await monitor.CommandsOfAsync(db, () => lister.ListAsync(new TaskListQuery(large, TaskState.Scheduled) { Limit = Limit, Cursor = cursor, OldestFirst = true }));
        // Rank r holds task r + 1: the page starts right after it.
        Assert.Equal(string.Format(CultureInfo.InvariantCulture, "{0:x32}", (Million / 2) + 2), deep.Tasks[0].Id.LocalId);
        AssertBounded("scheduled, from the middle", deepCommands);
        Assert.InRange(deepCommands.Count(c => c.Name == "ZRANGE"), 1, 1 + 12);
    }

    private static void AssertBounded(string what, IReadOnlyList<Command> commands)
    {
        Assert.True(commands.Count <= (4 * Limit) + 32, $"{what}: {commands.Count} commands in one call");
        foreach (var command in commands)
        {
            var span = command.Name switch
            {
                "XRANGE" or "XREVRANGE" => long.Parse(command.Args[^1], CultureInfo.InvariantCulture) is var count && command.Args[^2] == "COUNT"
                    ? count
                    : long.MaxValue,
                "ZRANGE" => long.Parse(command.Args[2], CultureInfo.InvariantCulture) - long.Parse(command.Args[1], CultureInfo.InvariantCulture) + 1,
                "ZRANGEBYSCORE" or "ZREVRANGE" or "ZREVRANGEBYSCORE" or "SCAN" or "KEYS" or "HGETALL" or "XLEN" => long.MaxValue,
                _ => 0,
            };
            Assert.True(span <= Limit + 1, $"{what}: '{command}' may read more than one page");
        }
    }

    /// <summary>Commands by name and count.</summary>
    private static string Census(IReadOnlyList<Command> commands) =>
        string.Join(", ", commands.GroupBy(c => c.Name).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} x{g.Count()}"));

    private static string ReadyCursor(string sid) => new ListCursor("0", sid).Encode(TaskLister.ReadySource, oldestFirst: true);

    private static async Task<List<string>> LoadAsync(IDatabase db, string queue, int count, int markEvery)
    {
        var stream = RedisKeys.Ready(queue, 0);
        await db.ExecuteAsync("XGROUP", "CREATE", stream, "tq", "0", "MKSTREAM");
        await db.SetAddAsync(RedisKeys.Levels(queue), 0);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var marks = new List<string>();
        for (var from = 1; from <= count; from += Chunk)
        {
            var reply = (RedisResult[])(await db.ScriptEvaluateAsync(
                Loader,
                [stream, RedisKeys.Scheduled(queue), RedisKeys.Task(new TaskId(queue, ""))],
                [from, Math.Min(count, from + Chunk - 1), now, queue, markEvery]))!;
            marks.AddRange(reply.Select(r => (string)r!));
        }

        return marks;
    }

    private static async Task<double> MedianAsync(Func<Task> call)
    {
        var times = new List<double>();
        for (var i = 0; i < 15; i++)
        {
            var watch = Stopwatch.StartNew();
            await call();
            times.Add(watch.Elapsed.TotalMilliseconds);
        }

        return times.Order().ElementAt(times.Count / 2);
    }

    internal sealed record Command(string Name, string[] Args)
    {
        public override string ToString() => Name + " " + string.Join(' ', Args);
    }

    /// <summary>redis-cli MONITOR: the commands scripts run ("[0 lua]" lines), between two markers.</summary>
    private sealed partial class Monitor : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly ConcurrentQueue<string> _lines = new();
        private int _markers;

        private Monitor(Process process)
        {
            _process = process;
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    _lines.Enqueue(e.Data);
                }
            };
            process.BeginOutputReadLine();
        }

        public static async Task<Monitor> StartAsync(int port)
        {
            var info = new ProcessStartInfo("redis-cli", ["-p", port.ToString(CultureInfo.InvariantCulture), "monitor"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            var monitor = new Monitor(Process.Start(info)!);
            await Eventually.TrueAsync(() => monitor._lines.Contains("OK"), TimeSpan.FromSeconds(10), "MONITOR started");
            return monitor;
        }

        public async Task<(T Result, List<Command> Commands)> CommandsOfAsync<T>(IDatabase db, Func<Task<T>> call)
        {
            var start = await MarkAsync(db);
            var result = await call();
            var end = await MarkAsync(db);
            var lines = _lines.ToArray();
            var from = Array.FindIndex(lines, l => l.Contains(start, StringComparison.Ordinal));
            var to = Array.FindIndex(lines, l => l.Contains(end, StringComparison.Ordinal));
            var commands = lines[(from + 1)..to].Where(l => l.Contains("[0 lua]", StringComparison.Ordinal)).Select(Parse).ToList();
            Assert.NotEmpty(commands);
            return (result, commands);
        }

        private async Task<string> MarkAsync(IDatabase db)
        {
            var marker = "h4-marker-" + Interlocked.Increment(ref _markers);
            await db.ExecuteAsync("ECHO", marker);
            await Eventually.TrueAsync(() => _lines.Any(l => l.Contains(marker, StringComparison.Ordinal)), TimeSpan.FromSeconds(30), $"MONITOR showed {marker}");
            return marker;
        }

        private static Command Parse(string line)
        {
            var args = Quoted().Matches(line[line.IndexOf("[0 lua]", StringComparison.Ordinal)..]).Select(m => m.Groups[1].Value).ToArray();
            return new Command(args[0].ToUpperInvariant(), args[1..]);
        }

        public ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }

            _process.Dispose();
            return ValueTask.CompletedTask;
        }

        [GeneratedRegex("\"((?:[^\"\\\\]|\\\\.)*)\"")]
        private static partial Regex Quoted();
    }
}
