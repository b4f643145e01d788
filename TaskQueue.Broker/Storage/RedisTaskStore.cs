using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker.Dispatch;
using TaskQueue.Broker.Limits;

namespace TaskQueue.Broker.Storage;

/// <summary>
/// The durable task lifecycle. Redis is the only source of truth: every state change is one Lua script
/// (Scripts/*.lua), batched per queue, fenced by lease tokens, timed by Redis's clock.
/// </summary>
public sealed class RedisTaskStore : IClaimStore
{
    private const int EnqueueFields = 16;
    private static readonly long s_maxUnixMs = DateTimeOffset.MaxValue.ToUnixTimeMilliseconds();

    // What a Watch event reads: all but the payload, result and checkpoint; state first (none: no such task).
    private static readonly RedisValue[] s_watchedFields =
    [
        .. TaskFields.All.Where(f => f is not (TaskFields.Payload or TaskFields.Result or TaskFields.Checkpoint))
            .OrderBy(f => f == TaskFields.State ? 0 : 1).Select(f => (RedisValue)f),
    ];

    private readonly IConnectionMultiplexer _redis;
    private readonly RedisKeySpace _keys;
    private readonly TaskStoreOptions _options;
    private readonly RedisClockShift _clockShift;
    private readonly string _backoffSchedule;
    private readonly ConcurrentDictionary<string, bool> _registeredQueues = new(StringComparer.Ordinal);
    private readonly int _maxQueues;
    private readonly ReplicaAcknowledger _acks;

    /// <summary>
    /// A store over <paramref name="redis"/>; without <paramref name="limits"/> (tests, benchmarks) the number of queues is not capped,
    /// without <paramref name="acks"/> it makes its own (uncounted) from the options' AckReplicas.
    /// </summary>
    public RedisTaskStore(
        IConnectionMultiplexer redis, IOptions<TaskStoreOptions> options, RedisClockShift clockShift, IOptions<LimitOptions>? limits = null,
        ReplicaAcknowledger? acks = null)
    {
        _redis = redis;
        _keys = RedisKeySpace.Of(redis);
        _options = options.Value;
        _options.Validate();
        _clockShift = clockShift;
        _backoffSchedule = _options.Backoff.ToScriptArgument();
        _maxQueues = limits?.Value.MaxQueues ?? int.MaxValue;
        _acks = acks ?? new ReplicaAcknowledger(redis, options);
    }

    public TaskStoreOptions Options => _options;

    private IDatabase Db => _redis.GetDatabase();

    private long Shift => (long)_clockShift.Value.TotalMilliseconds;

    // ---- enqueue ----

    public async Task<EnqueueResult> EnqueueAsync(NewTask task, CancellationToken cancellationToken = default) =>
        (await EnqueueBatchAsync([task], cancellationToken))[0];

    /// <summary>
    /// Enqueues tasks with one script call per queue; results come back in input order. With AckReplicas, one WAIT after
    /// the last script covers them all; too few replicas: <see cref="ReplicaAckException"/> carrying the results.
    /// </summary>
    public async Task<IReadOnlyList<EnqueueResult>> EnqueueBatchAsync(
        IReadOnlyList<NewTask> tasks, CancellationToken cancellationToken = default)
    {
        foreach (var task in tasks)
        {
            TaskValidation.Validate(task, _options);
        }

        cancellationToken.ThrowIfCancellationRequested();
        var epoch = _acks.Epoch;
        await RegisterQueuesAsync(tasks.Select(t => t.Queue));
        var results = new EnqueueResult[tasks.Count];
        var byQueue = Enumerable.Range(0, tasks.Count).GroupBy(i => tasks[i].Queue, StringComparer.Ordinal).ToList();
        await Task.WhenAll(byQueue.Select(group => EnqueueQueueAsync(group.Key, [.. group], tasks, results)));
        await _acks.ConfirmAsync(Db, byQueue.Select(group => group.Key), epoch, "submit", tasks.Count, results);
        return results;
    }

    private async Task EnqueueQueueAsync(string queue, int[] indexes, IReadOnlyList<NewTask> tasks, EnqueueResult[] results)
    {
        // The script writes only into a registered queue; one this broker remembers may have been forgotten since
        // (it was empty for the idle expiry): register it again, within the cap, and send the batch again. A queue
        // forgotten again in between (a whole idle expiry later) is refused as unregistered after a few tries.
        const int Tries = 3;
        for (var attempt = 1; ; attempt++)
        {
            if (await TryEnqueueQueueAsync(queue, indexes, tasks, results))
            {
                return;
            }

            _registeredQueues.TryRemove(queue, out _);
            if (attempt == Tries)
            {
                throw new InvalidOperationException($"Queue '{queue}' was forgotten while it was being registered again; submit again.");
            }

            await RegisterQueuesAsync([queue]);
        }
    }

    private async Task<bool> TryEnqueueQueueAsync(string queue, int[] indexes, IReadOnlyList<NewTask> tasks, EnqueueResult[] results)
    {
        var args = new RedisValue[2 + (indexes.Length * EnqueueFields)];
        args[0] = Shift;
        args[1] = queue;
        var n = 2;
        foreach (var index in indexes)
        {
            var task = tasks[index];
            args[n++] = TaskId.New(queue).LocalId;
            args[n++] = task.Type;
            args[n++] = task.Payload;
            args[n++] = task.Priority;
            args[n++] = task.MaxAttempts ?? _options.DefaultMaxAttempts;
            args[n++] = (long)task.Delay.TotalMilliseconds;
            args[n++] = task.NotBefore?.ToUnixTimeMilliseconds() ?? 0;
            args[n++] = Millis(task.ExecutionTimeout);
            args[n++] = Millis(task.ExpiresAfter);
            args[n++] = task.IdempotencyKey ?? "";
            args[n++] = task.TraceParent ?? "";
            args[n++] = task.TraceState ?? "";
            args[n++] = task.UniqueKey ?? "";
            args[n++] = task.DebounceKey ?? "";
            args[n++] = Millis(task.DebounceWindow);
            args[n++] = task.Group ?? "";
        }

        var reply = (RedisResult[])(await Db.RunScriptAsync(ScriptLibrary.Enqueue, Prefix(queue), args))!;
        if (reply.Length == 1)
        {
            return false; // {MISSING}: the registry does not hold the queue, and nothing was written
        }

        for (var i = 0; i < indexes.Length; i++)
        {
            results[indexes[i]] = new EnqueueResult(new TaskId(queue, (string)reply[2 * i]!), ScriptCodes.ToOutcome((long)reply[(2 * i) + 1]));
        }

        return true;
    }

    /// <summary>
    /// Adds the queues to the registry the background loops read, all or none: past
    /// <see cref="LimitOptions.MaxQueues"/> it throws <see cref="LimitExceededException"/> and adds nothing. A
    /// queue already registered always passes. The check and the add are one WATCH/MULTI transaction on the
    /// registry alone, and the queues this broker registered are remembered: the hot path pays nothing. A
    /// remembered queue that was forgotten since (empty for <see cref="TaskStoreOptions.QueueIdleExpiry"/>) is
    /// registered again when the enqueue script refuses it. A new entry is marked due at once in the due index, so a
    /// queue named but never used is forgotten like an emptied one.
    /// </summary>
    public Task RegisterQueuesAsync(IEnumerable<string> queues)
    {
        foreach (var queue in queues)
        {
            if (!_registeredQueues.ContainsKey(queue))
            {
                return RegisterNewQueuesAsync(queues);
            }
        }

        return Task.CompletedTask;
    }

    private async Task RegisterNewQueuesAsync(IEnumerable<string> queues)
    {
        var fresh = queues.Where(q => !_registeredQueues.ContainsKey(q)).Distinct(StringComparer.Ordinal).ToList();
        if (_keys.IsCluster)
        {
            await RegisterInSlotsAsync(fresh);
        }
        else
        {
            await RegisterOnOneRedisAsync(fresh);
        }

        foreach (var queue in fresh)
        {
            _registeredQueues.TryAdd(queue, true);
        }
    }

    private async Task RegisterOnOneRedisAsync(List<string> fresh)
    {
        var db = Db;
        // Each failed transaction means another registration went through, and the registry only grows up to
        // the cap: the loop ends.
        while (true)
        {
            var known = await db.SetContainsAsync(RedisKeys.Queues, [.. fresh.Select(q => (RedisValue)q)]);
            fresh = [.. fresh.Where((_, i) => !known[i])];
            if (fresh.Count == 0)
            {
                break;
            }

            if (await db.SetLengthAsync(RedisKeys.Queues) + fresh.Count > _maxQueues)
            {
                throw TooManyQueues();
            }

            // The registry changed under the transaction (another broker registered a queue) unless this commits: look again.
            var transaction = db.CreateTransaction();
            transaction.AddCondition(Condition.SetLengthLessThan(RedisKeys.Queues, (long)_maxQueues - fresh.Count + 1));
            _ = transaction.SetAddAsync(RedisKeys.Queues, [.. fresh.Select(q => (RedisValue)q)]);
            _ = transaction.SortedSetAddAsync(RedisKeys.Due, [.. fresh.Select(q => new SortedSetEntry(q, 0))], SortedSetWhen.LessThan);
            if (await transaction.ExecuteAsync())
            {
                break;
            }
        }
    }

    // A cluster keeps the registry per slot (RedisKeySpace), and no transaction spans slots: each slot's queues are added
    // to its registry and due index in one transaction of that slot, after the slot joins the list the background loops
    // read (a crash in between leaves a slot listed with nothing in it, which costs a visit). The cap is checked against
    // the sum of the slots' registries, so brokers registering at the same moment may pass it by their batches.
    private async Task RegisterInSlotsAsync(List<string> fresh)
    {
        var db = Db;
        var known = await Task.WhenAll(fresh.Select(q => db.SetContainsAsync(_keys.Registry(q), q)));
        fresh = [.. fresh.Where((_, i) => !known[i])];
        if (fresh.Count == 0)
        {
            return;
        }

        if (_maxQueues < int.MaxValue)
        {
            var sizes = await Task.WhenAll((await _keys.RegistriesAsync()).Select(registry => db.SetLengthAsync(registry)));
            if (sizes.Sum() + fresh.Count > _maxQueues)
            {
                throw TooManyQueues();
            }
        }

        await _keys.AddSlotsAsync(fresh);
        await Task.WhenAll(fresh.GroupBy(_keys.Registry).Select(slot => RedisRetry.OnTryAgainAsync(async () =>
        {
            var transaction = db.CreateTransaction();
            _ = transaction.SetAddAsync(slot.Key, [.. slot.Select(q => (RedisValue)q)]);
            _ = transaction.SortedSetAddAsync(
                _keys.DueIndex(slot.First()), [.. slot.Select(q => new SortedSetEntry(q, 0))], SortedSetWhen.LessThan);
            return await transaction.ExecuteAsync();
        })));
    }

    private LimitExceededException TooManyQueues() =>
        new($"The broker already holds {_maxQueues} queues, its limit (TaskQueue:Limits:MaxQueues); use an existing queue.");

    // ---- claim and leases ----

    /// <summary>Leases up to <paramref name="max"/> ready tasks of a queue, of any type, to a worker, highest priority first.</summary>
    public Task<ClaimResult> ClaimAsync(
        string queue, string workerId, int max, TimeSpan lease, CancellationToken cancellationToken = default) =>
        ClaimAsync(queue, workerId, [], max, lease, cancellationToken);

    /// <summary>
    /// Leases up to <paramref name="max"/> ready tasks of a queue to a worker, highest priority first, only of the
    /// <paramref name="taskTypes"/> it handles (empty: every type). Tasks of other types stay ready.
    /// </summary>
    public async Task<ClaimResult> ClaimAsync(
        string queue, string workerId, IReadOnlyList<string> taskTypes, int max, TimeSpan lease, CancellationToken cancellationToken = default)
    {
        TaskValidation.ValidateQueueName(queue);
        ArgumentNullException.ThrowIfNull(taskTypes);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(lease, TimeSpan.Zero);
        cancellationToken.ThrowIfCancellationRequested();
        var args = new RedisValue[8 + taskTypes.Count];
        args[0] = Shift;
        args[1] = workerId;
        args[2] = max;
        args[3] = (long)lease.TotalMilliseconds;
        args[4] = NewTokenPrefix();
        args[5] = _options.PromoteBatchSize;
        args[6] = RetentionMs;
        args[7] = (long)_options.PriorityMaxWait.TotalMilliseconds;
        for (var i = 0; i < taskTypes.Count; i++)
        {
            args[8 + i] = taskTypes[i];
        }

        var reply = (RedisResult[])(await Db.RunScriptAsync(ScriptLibrary.Claim, Prefix(queue), args))!;

        // promoted, expired, held; then the leased tasks.
        const int header = 3, fields = 13;
        var tasks = new List<LeasedTask>((reply.Length - header) / fields);
        for (var i = header; i < reply.Length; i += fields)
        {
            var timeoutMs = (long)reply[i + 5];
            tasks.Add(new LeasedTask(
                new TaskId(queue, (string)reply[i]!),
                (string)reply[i + 1]!,
                (byte[]?)reply[i + 2] ?? [],
                (int)reply[i + 3],
                (int)reply[i + 4],
                (int)reply[i + 11],
                timeoutMs > 0 ? TimeSpan.FromMilliseconds(timeoutMs) : null,
                EmptyToNull((string?)reply[i + 6]),
                EmptyToNull((string?)reply[i + 7]),
                (string)reply[i + 8]!,
                FromMs((long)reply[i + 9]),
                FromMs((long)reply[i + 10]))
            {
                Checkpoint = (byte[]?)reply[i + 12] ?? [],
            });
        }

        return new ClaimResult(tasks, (int)reply[0], (int)reply[1]) { Hold = ClaimHold.FromScript((long)reply[2]) };
    }

    /// <summary>
    /// Extends leases of one queue; each result says whether the token was still valid. An attempt past its
    /// execution timeout plus <see cref="BrokerOptions.DefaultExecutionTimeoutGrace"/> is failed instead
    /// (<see cref="TransitionResult.TimedOut"/>).
    /// </summary>
    public Task<RenewResult> RenewAsync(
        string queue, IReadOnlyList<LeaseRef> leases, TimeSpan lease, CancellationToken cancellationToken = default) =>
        RenewAsync(queue, leases, lease, BrokerOptions.DefaultExecutionTimeoutGrace, cancellationToken);

    /// <summary>
    /// The most leases one renew script call extends (about 3.5 µs each, so a call holds Redis for a few ms at most);
    /// a longer list goes as several calls, pipelined.
    /// </summary>
    public const int RenewChunk = 1000;

    /// <summary>
    /// Extends leases of one queue; each result says whether the token was still valid. An attempt that has run
    /// past its execution timeout plus <paramref name="timeoutGrace"/> is not renewed: it ends as a failed attempt
    /// (retried or dead-lettered) and its result is <see cref="TransitionResult.TimedOut"/>. At most
    /// <see cref="RenewChunk"/> leases per script call: the calls are sent together (one round trip) and Redis serves
    /// other clients between them. The deadline is the first call's (the earliest).
    /// </summary>
    public async Task<RenewResult> RenewAsync(
        string queue, IReadOnlyList<LeaseRef> leases, TimeSpan lease, TimeSpan timeoutGrace, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var calls = new List<Task<RedisResult>>((leases.Count + RenewChunk - 1) / RenewChunk);
        for (var start = 0; start < leases.Count || calls.Count == 0; start += RenewChunk)
        {
            var count = Math.Min(RenewChunk, leases.Count - start);
            var args = new List<RedisValue>(9 + (2 * count)) { Shift, (long)lease.TotalMilliseconds, (long)timeoutGrace.TotalMilliseconds };
            AddPolicy(args);
            args.Add(Random.Shared.NextDouble());
            for (var i = start; i < start + count; i++)
            {
                EnsureQueue(queue, leases[i].Id);
                args.Add(leases[i].Id.LocalId);
                args.Add(leases[i].Token);
            }

            calls.Add(Db.RunScriptAsync(ScriptLibrary.Renew, Prefix(queue), [.. args]));
        }

        var replies = await Task.WhenAll(calls);
        var results = new List<TransitionResult>(leases.Count);
        foreach (var reply in replies)
        {
            results.AddRange(((RedisResult[])reply!).Skip(1).Select(r => ScriptCodes.ToResult((long)r)));
        }

        return new RenewResult(FromMs((long)((RedisResult[])replies[0]!)[0]), results);
    }

    /// <summary>Ends the given leases after a short grace (their worker's connection broke).</summary>
    public async Task<int> ShortenLeasesAsync(
        string queue, IReadOnlyList<LeaseRef> leases, TimeSpan grace, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var args = new List<RedisValue>(2 + (2 * leases.Count)) { Shift, (long)grace.TotalMilliseconds };
        AddLeaseRefs(args, queue, leases);
        return (int)await Db.RunScriptAsync(ScriptLibrary.Shorten, Prefix(queue), [.. args]);
    }

    // ---- outcomes ----

    /// <summary>
    /// Completes a batch with one script call. With AckReplicas, a WAIT after it; too few replicas:
    /// <see cref="ReplicaAckException"/> (the primary holds the outcomes; they are not answered as settled).
    /// </summary>
    public async Task<IReadOnlyList<TransitionResult>> CompleteAsync(
        string queue, IReadOnlyList<TaskCompletion> completions, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var epoch = _acks.Epoch;
        var args = new List<RedisValue>(2 + (3 * completions.Count)) { Shift, RetentionMs };
        foreach (var completion in completions)
        {
            EnsureQueue(queue, completion.Id);
            args.Add(completion.Id.LocalId);
            args.Add(completion.Token);
            args.Add(completion.Result);
        }

        var codes = Codes(await Db.RunScriptAsync(ScriptLibrary.Complete, Prefix(queue), [.. args]));
        await _acks.ConfirmAsync(Db, [queue], epoch, "complete", completions.Count);
        return codes;
    }

    public async Task<IReadOnlyList<TransitionResult>> FailAsync(
        string queue, IReadOnlyList<TaskFailure> failures, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var args = new List<RedisValue>(6 + (5 * failures.Count));
        args.Add(Shift);
        AddPolicy(args);
        foreach (var failure in failures)
        {
            EnsureQueue(queue, failure.Id);
            args.Add(failure.Id.LocalId);
            args.Add(failure.Token);
            args.Add(failure.Error);
            args.Add(failure.Retryable ? 1 : 0);
            args.Add(Random.Shared.NextDouble());
        }

        return Codes(await Db.RunScriptAsync(ScriptLibrary.Fail, Prefix(queue), [.. args]));
    }

    /// <summary>Hands leased tasks back unfinished; the attempt does not count.</summary>
    public async Task<IReadOnlyList<TransitionResult>> ReleaseAsync(
        string queue, IReadOnlyList<LeaseRef> leases, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var args = new List<RedisValue>(2 + (2 * leases.Count)) { Shift, RetentionMs };
        AddLeaseRefs(args, queue, leases);
        return Codes(await Db.RunScriptAsync(ScriptLibrary.Release, Prefix(queue), [.. args]));
    }

    // ---- background transitions ----

    /// <summary>Sends expired leases of a queue down the failure path ("lease expired").</summary>
    public async Task<IReadOnlyList<ReapedLease>> ReapAsync(string queue, int max, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var args = new List<RedisValue>(9) { Shift };
        AddPolicy(args);
        args.Add(max);
        args.Add(Random.Shared.NextDouble());
        args.Add(IdleExpiryMs);
        var reply = (RedisResult[])(await Db.RunScriptAsync(ScriptLibrary.Reap, Prefix(queue), [.. args]))!;
        const int Fields = 9;
        var reaped = new List<ReapedLease>(reply.Length / Fields);
        for (var i = 0; i < reply.Length; i += Fields)
        {
            reaped.Add(new ReapedLease(
                new TaskId(queue, (string)reply[i]!),
                (string)reply[i + 1]!,
                DateTimeOffset.FromUnixTimeMilliseconds((long)reply[i + 2]),
                ScriptCodes.ToResult((long)reply[i + 3]),
                (string)reply[i + 4]!,
                (int)reply[i + 5],
                (int)reply[i + 6],
                EmptyToNull((string?)reply[i + 7]),
                EmptyToNull((string?)reply[i + 8])));
        }

        return reaped;
    }

    /// <summary>Moves due scheduled work to ready, and trims the dead-letter queue.</summary>
    public async Task<PromoteResult> PromoteAsync(string queue, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var reply = (RedisResult[])(await Db.RunScriptAsync(
            ScriptLibrary.Promote,
            Prefix(queue),
            [Shift, _options.PromoteBatchSize, RetentionMs, _options.DeadLetterMaxCount, (long)_options.DeadLetterMaxAge.TotalMilliseconds, IdleExpiryMs]))!;
        var nextDue = (long)reply[2];
        return new PromoteResult((int)reply[0], (int)reply[1], nextDue < 0 ? null : TimeSpan.FromMilliseconds(nextDue));
    }

    /// <summary>
    /// The queues whose time in the due index (<see cref="RedisKeys.Due"/>) has come, earliest first, at most
    /// <paramref name="max"/>, and how long until the next queue not due yet falls due (by Redis's clock).
    /// </summary>
    public async Task<DueQueues> GetDueQueuesAsync(int max, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        cancellationToken.ThrowIfCancellationRequested();
        return await DueIndexes.ReadAsync(Db, await _keys.DueIndexesAsync(), Shift, max);
    }

    /// <summary>
    /// Marks every registered queue due now (ZADD LT, so nothing due earlier moves): each is visited once and gets
    /// its true due time. Run at start, so a Redis written by a broker without the due index (its leases and
    /// scheduled work unmarked) loses nothing. Returns the number of queues marked.
    /// </summary>
    public async Task<long> SeedDueIndexAsync(CancellationToken cancellationToken = default)
    {
        var db = Db;
        long marked = 0;
        foreach (var registry in await _keys.RegistriesAsync())
        {
            // In a cluster each slot's registry is marked in its slot's due index (the queue names its slot).
            RedisKey? index = null;
            var chunk = new List<SortedSetEntry>(1000);
            await foreach (var queue in db.SetScanAsync(registry, pageSize: 1000).WithCancellation(cancellationToken))
            {
                index ??= _keys.DueIndex(queue!);
                chunk.Add(new SortedSetEntry(queue, 0));
                if (chunk.Count == 1000)
                {
                    marked += await MarkAsync(index.Value, chunk);
                }
            }

            if (index is { } last)
            {
                marked += await MarkAsync(last, chunk);
            }
        }

        return marked;

        async Task<long> MarkAsync(RedisKey index, List<SortedSetEntry> entries)
        {
            if (entries.Count == 0)
            {
                return 0;
            }

            await db.SortedSetAddAsync(index, [.. entries], SortedSetWhen.LessThan);
            var count = entries.Count;
            entries.Clear();
            return count;
        }
    }

    // ---- management ----

    public async Task<CancelResult> CancelAsync(TaskId id, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var reply = (RedisResult[])(await Db.RunScriptAsync(
            ScriptLibrary.Cancel, Prefix(id.Queue), [Shift, RetentionMs, id.LocalId]))!;
        return new CancelResult(ScriptCodes.ToResult((long)reply[0]), EmptyToNull((string?)reply[1]));
    }

    /// <summary>The task with everything stored, and its lease deadline (read in the same round trip).</summary>
    public async Task<TaskSnapshot?> GetAsync(TaskId id, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = Db;
        var read = db.HashGetAllAsync(RedisKeys.Task(id));
        var deadline = db.SortedSetScoreAsync(RedisKeys.Leases(id.Queue), id.LocalId);
        var entries = await read;
        return entries.Length == 0 ? null : WithLeaseDeadline(ToSnapshot(id, entries), await deadline);
    }

    /// <summary>
    /// The task without its payload, result and checkpoint (what a Watch event carries), and its lease deadline,
    /// in one round trip; null when it does not exist.
    /// </summary>
    public async Task<TaskSnapshot?> GetWatchedAsync(TaskId id, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = Db;
        var read = db.HashGetAsync(RedisKeys.Task(id), s_watchedFields);
        var deadline = db.SortedSetScoreAsync(RedisKeys.Leases(id.Queue), id.LocalId);
        var values = await read;
        if (values[0].IsNull)
        {
            return null;
        }

        var entries = new List<HashEntry>(values.Length);
        for (var i = 0; i < values.Length; i++)
        {
            if (!values[i].IsNull)
            {
                entries.Add(new HashEntry(s_watchedFields[i], values[i]));
            }
        }

        return WithLeaseDeadline(ToSnapshot(id, [.. entries]), await deadline);
    }

    private static TaskSnapshot WithLeaseDeadline(TaskSnapshot task, double? deadline) =>
        task.State == TaskState.Leased && deadline is { } ms ? task with { LeaseDeadline = FromMs((long)ms) } : task;

    /// <summary>
    /// Stores the progress of lease holders (one call for a queue's coalesced reports); each result says whether
    /// the token was still valid (a stale report changed nothing).
    /// </summary>
    public async Task<IReadOnlyList<TransitionResult>> ReportProgressAsync(
        string queue, IReadOnlyList<TaskProgressReport> reports, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var args = new List<RedisValue>(1 + (4 * reports.Count)) { Shift };
        foreach (var report in reports)
        {
            EnsureQueue(queue, report.Id);
            args.Add(report.Id.LocalId);
            args.Add(report.Token);
            args.Add(Math.Clamp(report.Percent, 0, 100));
            args.Add(report.Message);
        }

        return Codes(await Db.RunScriptAsync(ScriptLibrary.Progress, Prefix(queue), [.. args]));
    }

    /// <summary>
    /// Stores a lease holder's checkpoint (and its progress, unless the percent is -1) if the token is still
    /// valid: Ok, or StaleLease / NotFound with nothing changed. A checkpoint over
    /// <see cref="TaskStoreOptions.MaxCheckpointBytes"/> throws <see cref="ArgumentException"/>, storing nothing.
    /// </summary>
    public async Task<TransitionResult> CheckpointAsync(TaskCheckpointReport checkpoint, CancellationToken cancellationToken = default)
    {
        if (checkpoint.State.Length > _options.MaxCheckpointBytes)
        {
            throw new ArgumentException(
                $"The checkpoint is {checkpoint.State.Length} bytes, over the broker's limit of {_options.MaxCheckpointBytes} "
                + "(TaskQueue:Store:MaxCheckpointBytes); nothing was stored. Keep a checkpoint small: a cursor, not the work.",
                nameof(checkpoint));
        }

        cancellationToken.ThrowIfCancellationRequested();
        var percent = checkpoint.Percent < 0 ? -1 : Math.Min(checkpoint.Percent, 100);
        var reply = await Db.RunScriptAsync(
            ScriptLibrary.Checkpoint, Prefix(checkpoint.Id.Queue),
            [Shift, checkpoint.Id.LocalId, checkpoint.Token, checkpoint.State, percent, checkpoint.Message]);
        return ScriptCodes.ToResult((long)reply);
    }

    /// <summary>
    /// Counts a Watch on the task, so the scripts publish its changes on <see cref="RedisKeys.ChangedChannel"/>.
    /// Register before reading the task, so a change in between is never missed; unregister when the watch ends.
    /// </summary>
    public Task RegisterWatchAsync(TaskId id) =>
        Db.RunScriptAsync(ScriptLibrary.Watch, Prefix(id.Queue), [id.LocalId, 1]);

    public Task UnregisterWatchAsync(TaskId id) =>
        Db.RunScriptAsync(ScriptLibrary.Watch, Prefix(id.Queue), [id.LocalId, -1], CommandFlags.FireAndForget);

    /// <summary>
    /// Asks the scripts to publish the task on <see cref="RedisKeys.FinishedChannel"/> when it reaches a
    /// final state. Register before reading the state, so a finish in between is never missed.
    /// </summary>
    public Task RegisterWaiterAsync(TaskId id) => Db.SetAddAsync(RedisKeys.Waiters(id.Queue), id.LocalId);

    public Task UnregisterWaiterAsync(TaskId id) =>
        Db.SetRemoveAsync(RedisKeys.Waiters(id.Queue), id.LocalId, CommandFlags.FireAndForget);

    /// <summary>Dead letters, oldest first, with the total count.</summary>
    public async Task<(IReadOnlyList<TaskSnapshot> Tasks, long Total)> ListDeadLettersAsync(
        string queue, int offset, int limit, CancellationToken cancellationToken = default)
    {
        TaskValidation.ValidateQueueName(queue);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        cancellationToken.ThrowIfCancellationRequested();
        var db = Db;
        var total = await db.SortedSetLengthAsync(RedisKeys.DeadLetters(queue));
        var ids = await db.SortedSetRangeByRankAsync(RedisKeys.DeadLetters(queue), offset, offset + limit - 1);
        var hashes = await Task.WhenAll(ids.Select(id => db.HashGetAllAsync(RedisKeys.Task(new TaskId(queue, id!)))));
        var tasks = ids.Zip(hashes)
            .Where(pair => pair.Second.Length > 0)
            .Select(pair => ToSnapshot(new TaskId(queue, pair.First!), pair.Second))
            .ToList();
        return (tasks, total);
    }

    /// <summary>Replays the given dead letters, or all of them when <paramref name="ids"/> is empty.</summary>
    public Task<long> ReplayDeadLettersAsync(string queue, IReadOnlyList<TaskId> ids, CancellationToken cancellationToken = default) =>
        DeadLetterBatchesAsync(ScriptLibrary.Replay, queue, ids, [Shift], cancellationToken);

    /// <summary>Deletes the given dead letters, or all of them when <paramref name="ids"/> is empty.</summary>
    public Task<long> PurgeDeadLettersAsync(string queue, IReadOnlyList<TaskId> ids, CancellationToken cancellationToken = default) =>
        DeadLetterBatchesAsync(ScriptLibrary.Purge, queue, ids, [], cancellationToken);

    private async Task<long> DeadLetterBatchesAsync(
        string script, string queue, IReadOnlyList<TaskId> ids, RedisValue[] leading, CancellationToken cancellationToken)
    {
        const int batch = 1000;
        TaskValidation.ValidateQueueName(queue);
        long total = 0;
        if (ids.Count > 0)
        {
            foreach (var chunk in ids.Chunk(batch))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var args = leading.Append(batch).Concat(chunk.Select(id => (RedisValue)EnsureQueue(queue, id).LocalId));
                total += (long)await Db.RunScriptAsync(script, Prefix(queue), [.. args]);
            }

            return total;
        }

        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var done = (long)await Db.RunScriptAsync(script, Prefix(queue), [.. leading, batch]);
            total += done;
            if (done < batch)
            {
                return total;
            }
        }
    }

    public async Task<QueueCounts> GetCountsAsync(string queue, CancellationToken cancellationToken = default)
    {
        TaskValidation.ValidateQueueName(queue);
        cancellationToken.ThrowIfCancellationRequested();
        var db = Db;
        // The flow settings with the same round trip (a plain read: they change on their own, by admin calls).
        var flow = db.HashGetAsync(RedisKeys.Flow(queue), [.. FlowFields.Settings.Select(f => (RedisValue)f)]);
        var reply = (RedisResult[])(await db.RunScriptAsync(ScriptLibrary.Stats, Prefix(queue)))!;
        var (paused, limits) = FlowText.Settings([.. (await flow).Select(v => (string?)v)]);
        var counters = new Dictionary<string, long>(StringComparer.Ordinal);
        for (var i = 4; i + 1 < reply.Length; i += 2)
        {
            counters[(string)reply[i]!] = (long)reply[i + 1];
        }

        long Counter(string name) => counters.GetValueOrDefault(name);
        return new QueueCounts(
            queue, (long)reply[0], (long)reply[1], (long)reply[2], (long)reply[3],
            Counter("submitted"), Counter("completed"), Counter("failed"), Counter("retried"),
            Counter("dead"), Counter("expired"), Counter("cancelled"), Counter("replayed"), Counter("stale"))
        {
            Paused = paused,
            Limits = limits,
        };
    }

    /// <summary>Every live queue (the registry: a queue that stayed empty for the idle expiry is no longer in it).</summary>
    public async Task<IReadOnlyList<string>> GetQueuesAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = Db;
        var members = await Task.WhenAll((await _keys.RegistriesAsync()).Select(registry => db.SetMembersAsync(registry)));
        return [.. members.SelectMany(m => m).Select(m => (string)m!).Order(StringComparer.Ordinal)];
    }

    // ---- helpers ----

    private long RetentionMs => (long)_options.Retention.TotalMilliseconds;

    private long IdleExpiryMs => (long)_options.QueueIdleExpiry.TotalMilliseconds;

    private RedisKey[] Prefix(string queue) => _keys.ScriptKeys(queue);

    private void AddPolicy(List<RedisValue> args)
    {
        args.Add(RetentionMs);
        args.Add(_options.DeadLetterMaxCount);
        args.Add((long)_options.DeadLetterMaxAge.TotalMilliseconds);
        args.Add(_backoffSchedule);
        args.Add(_options.BackoffJitter);
    }

    private static void AddLeaseRefs(List<RedisValue> args, string queue, IReadOnlyList<LeaseRef> leases)
    {
        foreach (var lease in leases)
        {
            EnsureQueue(queue, lease.Id);
            args.Add(lease.Id.LocalId);
            args.Add(lease.Token);
        }
    }

    private static TaskId EnsureQueue(string queue, TaskId id) =>
        string.Equals(id.Queue, queue, StringComparison.Ordinal)
            ? id
            : throw new ArgumentException($"Task {id} does not belong to queue '{queue}'.", nameof(id));

    private static IReadOnlyList<TransitionResult> Codes(RedisResult reply) =>
        [.. ((RedisResult[])reply!).Select(r => ScriptCodes.ToResult((long)r))];

    private static string NewTokenPrefix() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)) + ".";

    private static long Millis(TimeSpan? value) => value is { } v ? (long)v.TotalMilliseconds : 0;

    // A delay or expiry may reach past year 9999 (durations go up to 10,000 years): read it as the maximum.
    private static DateTimeOffset FromMs(long ms) =>
        ms >= s_maxUnixMs ? DateTimeOffset.MaxValue : DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private static string? EmptyToNull(string? value) => string.IsNullOrEmpty(value) ? null : value;

    internal static TaskSnapshot ToSnapshot(TaskId id, HashEntry[] entries)
    {
        var fields = entries.ToDictionary(e => (string)e.Name!, e => e.Value, StringComparer.Ordinal);
        RedisValue Field(string name) => fields.GetValueOrDefault(name);
        string? Text(string name) => EmptyToNull((string?)Field(name));
        long Number(string name) => long.TryParse((string?)Field(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;
        DateTimeOffset? Time(string name) => Number(name) is > 0 and var ms ? FromMs(ms) : null;

        var timeout = Number(TaskFields.Timeout);
        return new TaskSnapshot(
            id,
            Text(TaskFields.Type) ?? "",
            ScriptCodes.ToState(Text(TaskFields.State)),
            (int)Number(TaskFields.Attempt),
            (int)Number(TaskFields.MaxAttempts),
            (int)Number(TaskFields.Priority),
            (byte[]?)Field(TaskFields.Payload) ?? [],
            (byte[]?)Field(TaskFields.Result) ?? [],
            Text(TaskFields.Error),
            Text(TaskFields.Worker),
            Text(TaskFields.Token),
            Text(TaskFields.CancelRequested) == "1",
            Text(TaskFields.IdempotencyKey),
            Text(TaskFields.TraceParent),
            Text(TaskFields.TraceState),
            timeout > 0 ? TimeSpan.FromMilliseconds(timeout) : null,
            Time(TaskFields.Expires),
            Time(TaskFields.Created) ?? DateTimeOffset.UnixEpoch,
            Time(TaskFields.Started),
            Time(TaskFields.Finished),
            Time(TaskFields.Due))
        {
            ProgressPercent = Text(TaskFields.ProgressAt) is null ? null : (int)Number(TaskFields.Progress),
            ProgressMessage = Text(TaskFields.ProgressMessage),
            ProgressAt = Time(TaskFields.ProgressAt),
            Checkpoint = (byte[]?)Field(TaskFields.Checkpoint) ?? [],
            UniqueKey = Text(TaskFields.UniqueKey),
            DebounceKey = Text(TaskFields.DebounceKey),
            Group = Text(TaskFields.Group),
        };
    }
}
