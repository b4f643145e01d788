using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using StackExchange.Redis;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Model;

/// <summary>
/// Runs one generated sequence against a fresh queue of the real store and against <see cref="QueueModel"/>,
/// checking after every step that Redis and the model agree: each task as the store reports it, the raw
/// Redis structures, the invariants and the counts.
/// </summary>
internal sealed partial class ModelRun
{
    private const int ReapMax = 100;
    private const string Group = "tq";

    private readonly StoreHarness _h;
    private readonly QueueModel _model;
    private readonly StringBuilder _log = new();
    private readonly long _start;
    private long _lastSeen;

    /// <summary>How often each kind of step and outcome was seen across all runs: shows what the sample covered.</summary>
    public static ConcurrentDictionary<string, int> Coverage { get; } = new(StringComparer.Ordinal);

    private ModelRun(StoreHarness h, long start)
    {
        _h = h;
        _model = new QueueModel(h.Store.Options);
        _start = start;
        _lastSeen = start;
    }

    /// <summary>
    /// Retention and the idle expiry are long (nothing expires and no empty queue is forgotten during a run: a unit is
    /// 5 minutes, and forgetting is Storage/IdleQueueTests's); backoff has no jitter and only odd units; priority
    /// is strict (the max wait reads stream ids, which carry Redis's real clock; the shift does not move them).
    /// </summary>
    public static void Configure(TaskStoreOptions options)
    {
        options.PriorityMaxWait = TimeSpan.Zero;
        options.Retention = TimeSpan.FromDays(30);
        options.QueueIdleExpiry = TimeSpan.FromDays(30);
        options.DefaultMaxAttempts = 4;
        options.BackoffInitial = TimeSpan.FromMilliseconds(ModelOp.UnitMs);
        options.BackoffMultiplier = 3;
        options.BackoffMax = TimeSpan.FromMilliseconds(27 * ModelOp.UnitMs);
        options.BackoffJitter = 0;
        options.DeadLetterMaxCount = 2;
        options.DeadLetterMaxAge = TimeSpan.FromMilliseconds(59 * ModelOp.UnitMs);
    }

    /// <summary>
    /// Runs the steps, checking after each; <paramref name="writeLine"/> gets the step log of a passing run. With
    /// <paramref name="onCluster"/> the store runs on the shared test Redis Cluster.
    /// </summary>
    public static async Task RunAsync(ModelOp[] ops, Action<string>? writeLine = null, bool onCluster = false)
    {
        var h = await StoreHarness.CreateAsync(Configure, onCluster);
        var run = new ModelRun(h, await RedisTimeMsAsync(h.Db));
        for (var i = 0; i < ops.Length; i++)
        {
            var applied = false;
            try
            {
                await run.NextMillisecondAsync();
                run._model.Step = i;
                var outcome = await run.ApplyAsync(ops[i]);
                applied = true;
                Note(ops[i].GetType().Name[..^2] + (outcome.StartsWith("skipped", StringComparison.Ordinal) ? " (skipped)" : ""));
                var events = run._model.Events.Count == 0 ? "" : $" {{{string.Join("; ", run._model.Events.Distinct())}}}";
                run._model.Events.ForEach(Note);
                run._model.Events.Clear();
                run._log.Append(CultureInfo.InvariantCulture, $"  {i,2}: {ops[i]} -> {outcome}{events}").AppendLine();
                await run.VerifyAsync();
            }
            catch (Exception e)
            {
                var where = applied ? "the checks after it failed" : $"{ops[i]} <- failed here";
                throw new InvalidOperationException(
                    $"Step {i} ({ops[i]}) left Redis and the model apart: {e.Message}{Environment.NewLine}" +
                    $"Queue {h.Queue}, steps run:{Environment.NewLine}{run._log}  {i,2}: {where}",
                    e);
            }
        }

        writeLine?.Invoke(run._log.ToString());
        await run.DeleteQueueAsync();
    }

    // ---- steps ----

    private Task<string> ApplyAsync(ModelOp op) => op switch
    {
        EnqueueOp e => EnqueueAsync(e),
        ClaimOp c => ClaimAsync(c),
        CompleteOp c => CompleteAsync(c),
        FailOp f => FailAsync(f),
        RenewOp r => RenewAsync(r),
        ReleaseOp r => ReleaseAsync(r),
        ShortenOp s => ShortenAsync(s),
        ProgressOp p => ProgressAsync(p),
        CheckpointOp c => CheckpointAsync(c),
        StaleOp s => StaleAsync(s),
        AdvanceOp a => AdvanceAsync(a),
        ReapOp => ReapAsync(),
        PromoteOp => PromoteAsync(),
        CancelOp c => CancelAsync(c),
        ReplayOp r => ReplayAsync(r),
        PurgeOp p => PurgeAsync(p),
        PauseOp p => PauseAsync(p),
        ConcurrencyLimitOp c => LimitAsync(c),
        GroupLimitOp g => GroupLimitAsync(g),
        _ => throw new InvalidOperationException($"Unknown step {op}."),
    };

    private async Task<string> EnqueueAsync(EnqueueOp op)
    {
        var tasks = op.Items.Select((item, n) => new NewTask(_h.Queue, "job-" + item.Priority, Payload(n))
        {
            Priority = item.Priority,
            MaxAttempts = item.MaxAttempts > 0 ? item.MaxAttempts : null,
            Delay = Units(item.DelayUnits),
            ExpiresAfter = item.ExpiryUnits > 0 ? Units(item.ExpiryUnits) : null,
            ExecutionTimeout = item.Timeout ? TimeSpan.FromSeconds(45) : null,
            IdempotencyKey = Key(item),
            UniqueKey = item.Unique >= 0 ? "u" + item.Unique : null,
            DebounceKey = item.Debounce >= 0 ? "d" + item.Debounce : null,
            DebounceWindow = item.Debounce >= 0 ? Units(item.WindowUnits) : null,
            Group = item.Group >= 0 ? QueueModel.GroupName(item.Group) : null,
        }).ToList();

        var results = await _h.Store.EnqueueBatchAsync(tasks);

        Assert.Equal(tasks.Count, results.Count);
        var outcome = new List<string>();
        for (var n = 0; n < tasks.Count; n++)
        {
            var item = op.Items[n];
            if (_model.Duplicate(Key(item)) is { } first)
            {
                Assert.Equal(new EnqueueResult(first.Id, EnqueueOutcome.IdempotentDuplicate), results[n]);
                outcome.Add($"duplicate of #{first.Index}");
                Note("enqueue: duplicate key");
            }
            else if (_model.UniqueHolder(tasks[n].UniqueKey) is { } holder)
            {
                Assert.Equal(new EnqueueResult(holder.Id, EnqueueOutcome.UniqueExisting), results[n]);
                outcome.Add($"unique: #{holder.Index}");
                Note($"enqueue: unique key held by a {holder.State.ToString().ToLowerInvariant()} task");
            }
            else if (_model.DebounceTarget(tasks[n].DebounceKey) is { } target)
            {
                Assert.Equal(new EnqueueResult(target.Id, EnqueueOutcome.Debounced), results[n]);
                _model.Debounce(target, item, Payload(n));
                outcome.Add($"debounced into #{target.Index}");
                Note("enqueue: debounced");
            }
            else
            {
                Assert.False(results[n].Duplicate, $"item {n} was reported a duplicate");
                Assert.Equal(_h.Queue, results[n].Id.Queue);
                Assert.DoesNotContain(_model.Tasks, t => t.Id == results[n].Id);
                Assert.Equal(EnqueueOutcome.Created, results[n].Outcome);
                var task = _model.Add(results[n].Id, item, Key(item), Payload(n));
                outcome.Add(task.ToString());
                Note(task.UniqueKey is not null ? "enqueue: unique key taken" : task.DebounceKey is not null ? "enqueue: debounced task created" : null);
            }
        }

        return string.Join(", ", outcome);

        byte[] Payload(int n) => Encoding.UTF8.GetBytes($"payload {_model.Step}.{n}");
    }

    private async Task<string> ClaimAsync(ClaimOp op)
    {
        var worker = "w" + op.Worker;
        var lease = Units(op.LeaseUnits);
        var expected = _model.Claim(op.Max, worker, (long)lease.TotalMilliseconds);

        var claim = await _h.Store.ClaimAsync(_h.Queue, worker, op.Max, lease);
        var now = await RedisTimeMsAsync(_h.Db);

        Assert.Equal(expected.Leased.Select(t => t.Index), claim.Tasks.Select(IndexOf));
        Assert.Equal((expected.Promoted, expected.Expired), (claim.Promoted, claim.Expired));
        Assert.Equal(claim.Tasks.Count, claim.Tasks.Select(t => t.LeaseToken).Distinct().Count());
        foreach (var (task, leased) in expected.Leased.Zip(claim.Tasks))
        {
            Assert.False(string.IsNullOrEmpty(leased.LeaseToken));
            Assert.DoesNotContain(_model.Tasks, t => t.Tokens.Contains(leased.LeaseToken));
            task.Token = leased.LeaseToken;
            task.Tokens.Add(leased.LeaseToken);
            Assert.Equal(task.Type, leased.Type);
            Assert.Equal(task.Payload, leased.Payload.ToArray());
            Assert.Equal(task.Attempt, leased.Attempt);
            Assert.Equal(task.MaxAttempts, leased.MaxAttempts);
            Assert.Equal(task.Priority, leased.Priority);
            Assert.Equal(task.Timeout, leased.ExecutionTimeout);
            Assert.Equal(Encoding.UTF8.GetString(task.Checkpoint), Encoding.UTF8.GetString(leased.Checkpoint.Span));
            Assert.Null(leased.TraceParent);
            Assert.Null(leased.TraceState);
            AssertAt("lease deadline", leased.LeaseDeadline, task.Deadline, now);
            AssertAt("enqueued", leased.EnqueuedAt, task.Enqueued, now);
        }

        Note(claim.Tasks.Count > 0 ? "claim: leased some" : "claim: leased none");
        Note(claim.Promoted > 0 ? "claim: promoted some" : null);
        Note(claim.Expired > 0 ? "claim: expired some" : null);
        return $"[{string.Join(", ", expected.Leased)}], promoted {claim.Promoted}, expired {claim.Expired}";
    }

    private async Task<string> CompleteAsync(CompleteOp op)
    {
        if (PickLeased(op.Picks) is not { } tasks)
        {
            return "skipped: nothing leased";
        }

        var completions = tasks.Select(t => new TaskCompletion(t.Id, t.Token!, Encoding.UTF8.GetBytes("result " + t.Index))).ToList();
        var expected = completions.Zip(tasks, (c, t) => _model.Complete(t, c.Token, c.Result.ToArray())).ToList();

        var actual = await _h.Store.CompleteAsync(_h.Queue, completions);

        Assert.Equal(expected, actual);
        return Describe(tasks, actual);
    }

    private async Task<string> FailAsync(FailOp op)
    {
        if (PickLeased(op.Picks) is not { } tasks)
        {
            return "skipped: nothing leased";
        }

        var failures = tasks.Select(t => new TaskFailure(t.Id, t.Token!, $"boom {_model.Step}", op.Retryable)).ToList();
        var expected = failures.Zip(tasks, (f, t) => _model.Fail(t, f.Token, f.Error, f.Retryable)).ToList();

        var actual = await _h.Store.FailAsync(_h.Queue, failures);

        Assert.Equal(expected, actual);
        return Describe(tasks, actual);
    }

    private async Task<string> RenewAsync(RenewOp op)
    {
        if (PickLeased(op.Picks) is not { } tasks)
        {
            return "skipped: nothing leased";
        }

        var lease = Units(op.LeaseUnits);
        var leases = tasks.Select(t => new LeaseRef(t.Id, t.Token!)).ToList();
        var expected = leases.Zip(tasks, (l, t) => _model.Renew(t, l.Token, (long)lease.TotalMilliseconds)).ToList();

        var actual = await _h.Store.RenewAsync(_h.Queue, leases, lease);

        Assert.Equal(expected, actual.Results);
        AssertAt("renewed deadline", actual.Deadline, _model.Now + (long)lease.TotalMilliseconds, await RedisTimeMsAsync(_h.Db));
        return Describe(tasks, actual.Results);
    }

    private async Task<string> ReleaseAsync(ReleaseOp op)
    {
        if (PickLeased(op.Picks) is not { } tasks)
        {
            return "skipped: nothing leased";
        }

        var leases = tasks.Select(t => new LeaseRef(t.Id, t.Token!)).ToList();
        var expected = leases.Zip(tasks, (l, t) => _model.Release(t, l.Token)).ToList();

        var actual = await _h.Store.ReleaseAsync(_h.Queue, leases);

        Assert.Equal(expected, actual);
        return Describe(tasks, actual);
    }

    private async Task<string> ShortenAsync(ShortenOp op)
    {
        if (PickLeased(op.Picks) is not { } tasks)
        {
            return "skipped: nothing leased";
        }

        var grace = Units(op.GraceUnits);
        var leases = tasks.Select(t => new LeaseRef(t.Id, t.Token!)).ToList();
        var expected = leases.Zip(tasks, (l, t) => _model.Shorten(t, l.Token, (long)grace.TotalMilliseconds)).Count(ok => ok);

        var actual = await _h.Store.ShortenLeasesAsync(_h.Queue, leases, grace);

        Assert.Equal(expected, actual);
        Note(actual > 0 ? "shorten: shortened some" : "shorten: none");
        return $"{actual} shortened";
    }

    private async Task<string> ProgressAsync(ProgressOp op)
    {
        if (PickLeased(op.Picks) is not { } tasks)
        {
            return "skipped: nothing leased";
        }

        var reports = tasks.Select(t => new TaskProgressReport(t.Id, t.Token!, op.Percent, $"step {_model.Step}")).ToList();
        var expected = reports.Zip(tasks, (r, t) => _model.ReportProgress(t, r.Token, r.Percent, r.Message)).ToList();

        var actual = await _h.Store.ReportProgressAsync(_h.Queue, reports);

        Assert.Equal(expected, actual);
        return Describe(tasks, actual);
    }

    private async Task<string> CheckpointAsync(CheckpointOp op)
    {
        if (PickLeased([op.Pick]) is not [var task])
        {
            return "skipped: nothing leased";
        }

        var state = Encoding.UTF8.GetBytes($"checkpoint {task.Index} at step {_model.Step}");
        var message = $"step {_model.Step}";
        var expected = _model.Checkpoint(task, task.Token!, state, op.Percent, message);

        var actual = await _h.Store.CheckpointAsync(new TaskCheckpointReport(task.Id, task.Token!, state, op.Percent, message));

        Assert.Equal(expected, actual);
        Note($"checkpoint: {actual}");
        return Describe([task], [actual]);
    }

    /// <summary>A report with a token that is not the task's current one is refused and changes nothing at all.</summary>
    private async Task<string> StaleAsync(StaleOp op)
    {
        if (_model.Tasks.Count == 0)
        {
            return "skipped: no tasks";
        }

        var task = _model.Tasks[op.Pick % _model.Tasks.Count];
        var old = task.Tokens.Where(t => t != task.Token).ToList();
        var token = op.Forged || old.Count == 0 ? $"forged.{op.Pick}" : old[op.Pick % old.Count];
        var expected = task.State == ModelState.Deleted ? TransitionResult.NotFound : TransitionResult.StaleLease;
        var before = await DumpAsync();

        var actual = op.Kind switch
        {
            StaleKind.Complete => (await _h.Store.CompleteAsync(_h.Queue, [new TaskCompletion(task.Id, token, "stale"u8.ToArray())]))[0],
            StaleKind.Fail => (await _h.Store.FailAsync(_h.Queue, [new TaskFailure(task.Id, token, "stale", Retryable: false)]))[0],
            StaleKind.Renew => (await _h.Store.RenewAsync(_h.Queue, [new LeaseRef(task.Id, token)], Units(5))).Results[0],
            StaleKind.Release => (await _h.Store.ReleaseAsync(_h.Queue, [new LeaseRef(task.Id, token)]))[0],
            StaleKind.Progress => (await _h.Store.ReportProgressAsync(_h.Queue, [new TaskProgressReport(task.Id, token, 99, "stale")]))[0],
            StaleKind.Checkpoint => await _h.Store.CheckpointAsync(new TaskCheckpointReport(task.Id, token, "stale"u8.ToArray(), 99, "stale")),
            _ => await _h.Store.ShortenLeasesAsync(_h.Queue, [new LeaseRef(task.Id, token)], Units(1)) == 0
                ? expected
                : TransitionResult.Ok,
        };

        if (op.Kind is StaleKind.Complete or StaleKind.Fail or StaleKind.Release && expected == TransitionResult.StaleLease)
        {
            _model.Count("stale");
        }

        Assert.Equal(expected, actual);
        Assert.Equal(before, await DumpAsync());
        Note($"stale {op.Kind.ToString().ToLowerInvariant()}: {actual}");
        return $"{task}: {actual} with {token}";
    }

    private Task<string> AdvanceAsync(AdvanceOp op)
    {
        var by = Units(op.Units);
        _h.Advance(by);
        _model.Now += (long)by.TotalMilliseconds;
        return Task.FromResult($"now +{_model.Now / ModelOp.UnitMs}u");
    }

    private async Task<string> ReapAsync()
    {
        var expected = _model.Reap(ReapMax);

        var actual = await _h.Store.ReapAsync(_h.Queue, ReapMax);

        Assert.Equal(
            expected.Select(e => (e.Task.Index, e.Worker, e.Outcome)),
            actual.Select(r => (IndexOf(r.Id), r.WorkerId, r.Outcome)));
        foreach (var e in expected)
        {
            Note($"reap: {e.Outcome}");
        }

        return $"[{string.Join(", ", expected.Select(e => $"{e.Task}: {e.Outcome}"))}]";
    }

    private async Task<string> PromoteAsync()
    {
        var expected = _model.Promote();

        var actual = await _h.Store.PromoteAsync(_h.Queue);
        var now = await RedisTimeMsAsync(_h.Db);

        Assert.Equal((expected.Promoted, expected.Expired), (actual.Promoted, actual.Expired));
        Assert.Equal(expected.NextDueInMs is null, actual.NextDueIn is null);
        if (expected.NextDueInMs is { } next)
        {
            // Redis counts from the real times of the steps: the one that scheduled the task was earlier.
            Assert.InRange((long)actual.NextDueIn!.Value.TotalMilliseconds, next - (now - _start) - 1, next);
        }

        Note(actual.Promoted > 0 ? "promote: promoted some" : null);
        Note(actual.Expired > 0 ? "promote: expired some" : null);
        return $"promoted {actual.Promoted}, expired {actual.Expired}, next due in {actual.NextDueIn}";
    }

    private async Task<string> CancelAsync(CancelOp op)
    {
        if (_model.Tasks.Count == 0)
        {
            return "skipped: no tasks";
        }

        var task = _model.Tasks[op.Pick % _model.Tasks.Count];
        var expected = _model.Cancel(task);

        var actual = await _h.Store.CancelAsync(task.Id);

        Assert.Equal(new CancelResult(expected.Result, expected.Worker), actual);
        Note($"cancel: {actual.Result}");
        return $"{task}: {actual.Result}";
    }

    private async Task<string> ReplayAsync(ReplayOp op)
    {
        var picked = PickAny(op.Picks);
        var expected = _model.Replay(picked);

        var actual = await _h.Store.ReplayDeadLettersAsync(_h.Queue, [.. picked.Select(t => t.Id)]);

        Assert.Equal(expected, actual);
        Note(actual > 0 ? "replay: replayed some" : "replay: none");
        return $"{actual} replayed";
    }

    private async Task<string> PurgeAsync(PurgeOp op)
    {
        var picked = PickAny(op.Picks);
        var expected = _model.Purge(picked);

        var actual = await _h.Store.PurgeDeadLettersAsync(_h.Queue, [.. picked.Select(t => t.Id)]);

        Assert.Equal(expected, actual);
        Note(actual > 0 ? "purge: purged some" : "purge: none");
        return $"{actual} purged";
    }

    // ---- checks after every step ----

    private async Task VerifyAsync()
    {
        var db = _h.Db;
        var now = await RedisTimeMsAsync(db);
        _lastSeen = now;
        Assert.True(
            now - _start < ModelOp.UnitMs / 2,
            $"The run took {now - _start} ms of real time, more than the model's timing margin of half a unit.");
        var tasks = _model.Tasks;
        var snapshotsTask = Task.WhenAll(tasks.Select(t => _h.Store.GetAsync(t.Id)));
        var sidsTask = Task.WhenAll(tasks.Select(t => db.HashGetAsync(RedisKeys.Task(t.Id), TaskFields.StreamEntry)));
        var levelsTask = db.SetMembersAsync(RedisKeys.Levels(_h.Queue));
        var lanes = Enumerable.Range(0, QueueModel.Levels).SelectMany(p => QueueModel.Groups.Select(g => (Priority: p, Group: g))).ToList();
        var streamTasks = lanes.Select(l => db.StreamRangeAsync(ReadyStream(l.Priority, l.Group))).ToList();
        var pendingTasks = lanes.Select(l => PendingAsync(db, ReadyStream(l.Priority, l.Group))).ToList();
        var groupLaneTasks = lanes.Select(l => db.SortedSetRangeByRankWithScoresAsync(GroupLane(l.Priority, l.Group))).ToList();
        var leasesTask = db.SortedSetRangeByRankWithScoresAsync(RedisKeys.Leases(_h.Queue));
        var scheduledTask = db.SortedSetRangeByRankWithScoresAsync(RedisKeys.Scheduled(_h.Queue));
        var deadTask = db.SortedSetRangeByRankWithScoresAsync(RedisKeys.DeadLetters(_h.Queue));
        var keys = _model.KeysEverUsed.Order(StringComparer.Ordinal).ToList();
        var idemTask = Task.WhenAll(keys.Select(k => db.StringGetAsync(RedisKeys.Idempotency(_h.Queue, k))));
        var uniqueKeys = _model.UniqueKeysEverUsed.Order(StringComparer.Ordinal).ToList();
        var uniqueTask = Task.WhenAll(uniqueKeys.Select(k => db.StringGetAsync(RedisKeys.Unique(_h.Queue, k))));
        var debounceKeys = _model.DebounceKeysEverUsed.Order(StringComparer.Ordinal).ToList();
        var debounceTask = Task.WhenAll(debounceKeys.Select(k => db.StringGetAsync(RedisKeys.Debounce(_h.Queue, k))));
        var countsTask = _h.Store.GetCountsAsync(_h.Queue);
        var deadListTask = _h.Store.ListDeadLettersAsync(_h.Queue, 0, 100);
        var registeredTask = db.SetContainsAsync(_h.Keys.Registry(_h.Queue), _h.Queue);

        var snapshots = await snapshotsTask;
        var sids = await sidsTask;

        // Every task is where the model says, and none is lost.
        for (var i = 0; i < tasks.Count; i++)
        {
            AssertTask(tasks[i], snapshots[i], now);
        }

        // Ready streams: undelivered entries are exactly the ready tasks in order, the reclaimed ones (pending for the
        // consumer "front") the reclaimed tasks in order; delivered ones (consumer "leased") the leased tasks.
        var levels = (await levelsTask).Select(v => RedisKeys.ParseLane(v!).Priority).Order().ToList();
        Assert.Equal(_model.LevelsUsed, levels);
        var indexOfLocal = tasks.ToDictionary(t => t.Id.LocalId, t => t.Index, StringComparer.Ordinal);
        var undelivered = new HashSet<int>();
        var pendingAll = new List<int>();
        for (var l = 0; l < lanes.Count; l++)
        {
            var (p, g) = lanes[l];
            if (g != "")
            {
                // A group lane: a sorted set of ids, the reclaimed ones (scores below 0) first, each at "g" + its order.
                var inLane = (await groupLaneTasks[l]).Select(e => (Score: e.Score, Index: indexOfLocal[(string)e.Element!])).ToList();
                Assert.Empty(await streamTasks[l]);
                Assert.All(inLane, e => Assert.Equal(
                    "g" + (e.Score < 0 ? e.Score + TaskQueue.Tests.Storage.StoreChecks.GroupLaneReclaimed : e.Score).ToString("0", CultureInfo.InvariantCulture),
                    (string?)sids[e.Index]));
                var groupWaiting = inLane.Where(e => e.Score >= 0).Select(e => e.Index).ToList();
                var groupReclaimed = inLane.Where(e => e.Score < 0).Select(e => e.Index).ToList();
                Assert.Equal(_model.Ready(p).Where(t => t.Group == g).Select(t => t.Index), groupWaiting);
                Assert.Equal(_model.Reclaimed(p).Where(t => t.Group == g).Select(t => t.Index), groupReclaimed);
                undelivered.UnionWith(groupWaiting);
                undelivered.UnionWith(groupReclaimed);
                continue;
            }

            var entries = await streamTasks[l];
            var pendingEntries = await pendingTasks[l];
            var pending = pendingEntries.Where(e => e.Consumer == "leased").Select(e => e.Id).ToHashSet(StringComparer.Ordinal);
            var reclaimed = pendingEntries.Where(e => e.Consumer == "front").Select(e => e.Id).ToHashSet(StringComparer.Ordinal);
            Assert.Equal(pendingEntries.Length, pending.Count + reclaimed.Count);
            var inStream = entries.Select(e => (Sid: (string)e.Id!, Index: indexOfLocal[(string)e["id"]!])).ToList();
            Assert.All(inStream, e => Assert.Equal(e.Sid, (string?)sids[e.Index]));
            Assert.Equal(pending.Count, inStream.Count(e => pending.Contains(e.Sid)));
            Assert.Equal(reclaimed.Count, inStream.Count(e => reclaimed.Contains(e.Sid)));
            var waiting = inStream.Where(e => !pending.Contains(e.Sid) && !reclaimed.Contains(e.Sid)).Select(e => e.Index).ToList();
            Assert.Equal(_model.Ready(p).Where(t => t.Group == g).Select(t => t.Index), waiting);
            Assert.Equal(_model.Reclaimed(p).Where(t => t.Group == g).Select(t => t.Index), inStream.Where(e => reclaimed.Contains(e.Sid)).Select(e => e.Index));
            var delivered = inStream.Where(e => pending.Contains(e.Sid)).Select(e => e.Index).Order().ToList();
            Assert.Equal(tasks.Where(t => t.State == ModelState.Leased && t.Priority == p && t.Group == g).Select(t => t.Index), delivered);
            undelivered.UnionWith(waiting);
            undelivered.UnionWith(inStream.Where(e => reclaimed.Contains(e.Sid)).Select(e => e.Index));
            pendingAll.AddRange(delivered);
        }

        // Leases, schedule and dead letters hold exactly the model's tasks, at the model's times.
        var leases = AssertZset("leases", await leasesTask, ModelState.Leased, t => t.Deadline, now);
        var scheduled = AssertZset("scheduled", await scheduledTask, ModelState.Scheduled, t => t.Due, now);
        AssertZset("dead letters", await deadTask, ModelState.DeadLettered, t => t.DeadAt, now);

        // The invariant: a live task is in exactly one of the ready streams (undelivered or reclaimed), the leases, the schedule.
        foreach (var task in tasks.Where(t => t.State != ModelState.Deleted))
        {
            var places = (undelivered.Contains(task.Index) ? 1 : 0) + (leases.Contains(task.Index) ? 1 : 0) + (scheduled.Contains(task.Index) ? 1 : 0);
            Assert.True(places == (task.IsFinal ? 0 : 1), $"{task} is in {places} of ready/leases/scheduled");
            if (task.State is not (ModelState.Ready or ModelState.Leased))
            {
                Assert.True((string?)sids[task.Index] == "", $"{task} still points at stream entry {sids[task.Index]}");
            }
        }

        // No task is leased to two holders: one delivery each, one token each, tokens never shared.
        Assert.Equal(pendingAll.Count, pendingAll.Distinct().Count());
        var leasedSnapshots = snapshots.Where(s => s?.State == TaskState.Leased).ToList();
        Assert.Equal(leasedSnapshots.Count, leasedSnapshots.Select(s => s!.LeaseToken).Distinct().Count());

        // Idempotency keys point at the first task that used them until it is deleted.
        var idem = await idemTask;
        for (var k = 0; k < keys.Count; k++)
        {
            Assert.True(
                _model.Idempotency.TryGetValue(keys[k], out var owner) ? idem[k] == owner.Id.LocalId : idem[k].IsNull,
                $"idempotency key {keys[k]} holds '{idem[k]}', expected {(owner is null ? "nothing" : owner.ToString())}");
        }

        // Unique keys name their holder while it is not final; debounce keys the last task created with them until it is final.
        foreach (var (names, values, holders, what) in new[]
                 {
                     (uniqueKeys, await uniqueTask, _model.UniqueHolders, "unique"), (debounceKeys, await debounceTask, _model.DebounceHolders, "debounce"),
                 })
        {
            for (var k = 0; k < names.Count; k++)
            {
                Assert.True(
                    holders.TryGetValue(names[k], out var holder) ? values[k] == holder.Id.LocalId : values[k].IsNull,
                    $"{what} key {names[k]} holds '{values[k]}', expected {(holder is null ? "nothing" : holder.ToString())}");
            }
        }

        // The dead-letter listing is oldest first, and the queue is registered once it has had a task.
        var (deadList, deadTotal) = await deadListTask;
        Assert.Equal(_model.DeadLetters.Select(t => t.Index), deadList.Select(t => IndexOf(t.Id)));
        Assert.Equal(_model.DeadLetters.Count, deadTotal);
        Assert.Equal(tasks.Count > 0, await registeredTask);

        var counts = await countsTask;
        Assert.Equal(
            (Ready: _model.InState(ModelState.Ready).Count(), Leased: _model.Leased.Count,
             Scheduled: _model.InState(ModelState.Scheduled).Count(), Dead: _model.InState(ModelState.DeadLettered).Count()),
            (Ready: (int)counts.Ready, Leased: (int)counts.Leased, Scheduled: (int)counts.Scheduled, Dead: (int)counts.DeadLettered));
        Assert.Equal(
            Counters(_model.Counters),
            Counters(new Dictionary<string, long>(StringComparer.Ordinal)
            {
                ["submitted"] = counts.Submitted, ["completed"] = counts.Completed, ["failed"] = counts.Failed,
                ["retried"] = counts.Retried, ["dead"] = counts.DeadLetteredTotal, ["expired"] = counts.Expired,
                ["cancelled"] = counts.Cancelled, ["replayed"] = counts.Replayed, ["stale"] = counts.StaleRejected,
            }));

        static string Counters(Dictionary<string, long> counters) =>
            string.Join(", ", counters.Where(c => c.Value != 0).OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key}={c.Value}"));
    }

    private void AssertTask(ModelTask task, TaskSnapshot? snapshot, long now)
    {
        if (task.State == ModelState.Deleted)
        {
            Assert.True(snapshot is null, $"{task} should be gone but reads as {snapshot?.State}");
            return;
        }

        Assert.True(snapshot is not null, $"{task} was lost");
        var what = task.ToString();
        Assert.Equal((what, ToTaskState(task.State)), (what, snapshot.State));
        Assert.Equal((what, "attempt", task.Attempt), (what, "attempt", snapshot.Attempt));
        Assert.Equal((what, "max", task.MaxAttempts), (what, "max", snapshot.MaxAttempts));
        Assert.Equal((what, "prio", task.Priority), (what, "prio", snapshot.Priority));
        Assert.Equal(task.Type, snapshot.Type);
        Assert.Equal(task.Payload, snapshot.Payload.ToArray());
        Assert.Equal((what, "result", Encoding.UTF8.GetString(task.Result)), (what, "result", Encoding.UTF8.GetString(snapshot.Result.Span)));
        Assert.Equal((what, "error", task.Error), (what, "error", snapshot.LastError));
        Assert.Equal((what, "worker", task.Worker), (what, "worker", snapshot.WorkerId));
        Assert.Equal((what, "token", task.Token), (what, "token", snapshot.LeaseToken));
        Assert.Equal((what, "cancel", task.CancelRequested), (what, "cancel", snapshot.CancelRequested));
        Assert.Equal((what, "key", task.Key), (what, "key", snapshot.IdempotencyKey));
        Assert.Equal((what, "unique", task.UniqueKey, "debounce", task.DebounceKey), (what, "unique", snapshot.UniqueKey, "debounce", snapshot.DebounceKey));
        Assert.Equal(task.Timeout, snapshot.ExecutionTimeout);
        Assert.Null(snapshot.TraceParent);
        AssertAt(what + " created", snapshot.CreatedAt, task.Created, now);
        AssertAt(what + " due", snapshot.DueAt, task.Due, now);
        AssertAt(what + " expires", snapshot.ExpiresAt, task.ExpiresAt, now);
        AssertAt(what + " started", snapshot.StartedAt, task.Started, now);
        AssertAt(what + " finished", snapshot.FinishedAt, task.Finished, now);
        Assert.Equal((what, "progress", task.Progress, task.ProgressMessage), (what, "progress", snapshot.ProgressPercent, snapshot.ProgressMessage));
        AssertAt(what + " progress at", snapshot.ProgressAt, task.ProgressAt, now);
        Assert.Equal((what, "checkpoint", Encoding.UTF8.GetString(task.Checkpoint)), (what, "checkpoint", Encoding.UTF8.GetString(snapshot.Checkpoint.Span)));
    }

    private HashSet<int> AssertZset(string name, SortedSetEntry[] entries, ModelState state, Func<ModelTask, long> time, long now)
    {
        var byLocal = _model.Tasks.ToDictionary(t => t.Id.LocalId, StringComparer.Ordinal);
        var members = entries.Select(e => byLocal.TryGetValue((string)e.Element!, out var t)
            ? t
            : throw new InvalidOperationException($"{name} holds {e.Element}, which is no task of this run")).ToList();
        Assert.Equal(
            (name, string.Join(", ", _model.InState(state).Select(t => t.Index).Order())),
            (name, string.Join(", ", members.Select(t => t.Index).Order())));
        foreach (var (entry, task) in entries.Zip(members))
        {
            AssertAt($"{task} in {name}", (long)entry.Score, time(task), now);
        }

        return [.. members.Select(t => t.Index)];
    }

    /// <summary>
    /// A time Redis wrote = the real time of the step that wrote it + the clock shift then. The model knows the
    /// shift exactly; the real time lies between the start of the run and <paramref name="now"/>.
    /// </summary>
    private void AssertAt(string what, long? actualMs, long? modelShiftMs, long now)
    {
        Assert.True(actualMs is null == modelShiftMs is null, $"{what}: Redis has {actualMs}, the model {modelShiftMs}");
        if (actualMs is { } actual)
        {
            var real = actual - modelShiftMs!.Value;
            Assert.True(real >= _start && real <= now, $"{what}: {actual} is not {modelShiftMs} ms after a real time in [{_start}, {now}]");
        }
    }

    private void AssertAt(string what, DateTimeOffset? actual, long? modelShiftMs, long now) =>
        AssertAt(what, actual?.ToUnixTimeMilliseconds(), modelShiftMs, now);

    // ---- helpers ----

    /// <summary>
    /// Waits (bounded) until Redis's clock has moved past the last step, so two steps never share a millisecond
    /// and equal model times are ordered by step in Redis too.
    /// </summary>
    private async Task NextMillisecondAsync()
    {
        for (var attempt = 0; attempt < 10_000; attempt++)
        {
            if (await RedisTimeMsAsync(_h.Db) > _lastSeen)
            {
                return;
            }
        }

        throw new TimeoutException("Redis's clock did not advance.");
    }

    /// <summary>The lane of a priority's tasks: the model gives each priority one type (<see cref="QueueModel.Add"/>).</summary>
    private string ReadyStream(int priority, string group = "") => RedisKeys.ReadyLane(_h.Queue, RedisKeys.Lane(priority, "job-" + priority, group));

    /// <summary>The group lane of a priority's tasks of a group (a sorted set: lib/common.lua).</summary>
    private string GroupLane(int priority, string group) => RedisKeys.GroupReady(_h.Queue, RedisKeys.Lane(priority, "job-" + priority, group));

    /// <summary>Everything of this queue in Redis, as text, to show that a refused report changed nothing.</summary>
    private async Task<string> DumpAsync()
    {
        var db = _h.Db;
        var text = new StringBuilder();
        foreach (var task in _model.Tasks)
        {
            var fields = await db.HashGetAllAsync(RedisKeys.Task(task.Id));
            text.AppendLine(CultureInfo.InvariantCulture, $"{task.Id.LocalId}: {string.Join(" ", fields.OrderBy(f => (string)f.Name!, StringComparer.Ordinal))}");
        }

        foreach (var p in _model.LevelsUsed)
        {
            var key = ReadyStream(p);
            text.AppendLine(CultureInfo.InvariantCulture, $"ready {p}: {string.Join(" ", (await db.StreamRangeAsync(key)).Select(e => $"{e.Id}={e["id"]}"))}");
            text.AppendLine(CultureInfo.InvariantCulture, $"pending {p}: {string.Join(" ", await PendingAsync(db, key))}");
            foreach (var group in QueueModel.Groups.Where(g => g != ""))
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"lane {p} {group}: {string.Join(" ", await db.SortedSetRangeByRankWithScoresAsync(GroupLane(p, group)))}");
            }
        }

        foreach (var key in new[] { RedisKeys.Leases(_h.Queue), RedisKeys.Scheduled(_h.Queue), RedisKeys.DeadLetters(_h.Queue) })
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"{key}: {string.Join(" ", await db.SortedSetRangeByRankWithScoresAsync(key))}");
        }

        // The "stale" counter counts refused reports (checked against the model after the step), so it may change.
        var stats = (await db.HashGetAllAsync(RedisKeys.Stats(_h.Queue))).Where(f => f.Name != "stale");
        text.AppendLine(CultureInfo.InvariantCulture, $"stats: {string.Join(" ", stats.OrderBy(f => (string)f.Name!, StringComparer.Ordinal))}");
        foreach (var key in _model.KeysEverUsed.Order(StringComparer.Ordinal))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"idem {key}: {await db.StringGetAsync(RedisKeys.Idempotency(_h.Queue, key))}");
        }

        return text.ToString();
    }

    private async Task DeleteQueueAsync()
    {
        var keys = await _h.QueueKeysAsync();
        await _h.Db.KeyDeleteAsync([.. keys.Select(k => (RedisKey)k)]);
        await _h.Db.SetRemoveAsync(_h.Keys.Registry(_h.Queue), _h.Queue);
    }

    private static async Task<(string Id, string Consumer)[]> PendingAsync(IDatabase db, string stream)
    {
        if (!await db.KeyExistsAsync(stream))
        {
            return [];
        }

        var pending = await db.StreamPendingMessagesAsync(stream, Group, 10_000, RedisValue.Null);
        return [.. pending.Select(p => ((string)p.MessageId!, (string)p.ConsumerName!))];
    }

    private static async Task<long> RedisTimeMsAsync(IDatabase db)
    {
        var time = (RedisResult[])(await db.ExecuteAsync("TIME"))!;
        return ((long)time[0] * 1000) + ((long)time[1] / 1000);
    }

    private List<ModelTask>? PickLeased(int[] picks)
    {
        var leased = _model.Leased;
        return leased.Count == 0 ? null : [.. picks.Select(p => leased[p % leased.Count])];
    }

    private List<ModelTask> PickAny(int[] picks) =>
        _model.Tasks.Count == 0 ? [] : [.. picks.Select(p => _model.Tasks[p % _model.Tasks.Count])];

    private int IndexOf(LeasedTask task) => IndexOf(task.Id);

    private int IndexOf(TaskId id) => _model.Tasks.FindIndex(t => t.Id == id);

    private static string Describe(List<ModelTask> tasks, IReadOnlyList<TransitionResult> results, [System.Runtime.CompilerServices.CallerMemberName] string step = "")
    {
        foreach (var result in results)
        {
            Note($"{step[..^"Async".Length].ToLowerInvariant()}: {result}");
        }

        return string.Join(", ", tasks.Zip(results, (t, r) => $"{t}: {r}"));
    }

    private static void Note(string? what)
    {
        if (what is not null)
        {
            Coverage.AddOrUpdate(what, 1, (_, n) => n + 1);
        }
    }

    private static string? Key(EnqueueItem item) => item.Key >= 0 ? "k" + item.Key : null;

    private static TimeSpan Units(int units) => TimeSpan.FromMilliseconds(units * ModelOp.UnitMs);

    private static TaskState ToTaskState(ModelState state) => state switch
    {
        ModelState.Ready => TaskState.Ready,
        ModelState.Scheduled => TaskState.Scheduled,
        ModelState.Leased => TaskState.Leased,
        ModelState.Completed => TaskState.Completed,
        ModelState.DeadLettered => TaskState.DeadLettered,
        ModelState.Cancelled => TaskState.Cancelled,
        ModelState.Expired => TaskState.Expired,
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "A deleted task has no state."),
    };
}
