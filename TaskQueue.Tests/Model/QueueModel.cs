using TaskQueue.Broker;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Model;

internal enum ModelState
{
    Ready,
    Scheduled,
    Leased,
    Completed,
    DeadLettered,
    Cancelled,
    Expired,

    /// <summary>Purged or trimmed from the dead letters: the hash is gone.</summary>
    Deleted,
}

/// <summary>What one task should look like. Times are the store's clock shift in ms at the step that set them.</summary>
internal sealed class ModelTask
{
    public required int Index { get; init; }
    public required TaskId Id { get; init; }
    public required string Type { get; init; }
    public required byte[] Payload { get; set; }
    public required int Priority { get; init; }
    public required int MaxAttempts { get; init; }
    public required string? Key { get; init; }
    public required long? ExpiresAt { get; set; }
    public required TimeSpan? Timeout { get; init; }
    public required long Created { get; init; }
    public string? UniqueKey { get; init; }
    public string? DebounceKey { get; init; }

    /// <summary>"" = no group.</summary>
    public string Group { get; init; } = "";

    public ModelState State { get; set; }
    public int Attempt { get; set; }
    public string? Token { get; set; }
    public string? Worker { get; set; }
    public long Deadline { get; set; }
    public long DeadlineStep { get; set; }
    public bool CancelRequested { get; set; }
    public string? Error { get; set; }
    public byte[] Result { get; set; } = [];
    public long Due { get; set; }
    public long DueStep { get; set; }
    public long Enqueued { get; set; }

    /// <summary>The order of its ready stream entry (a stream id's order); a reclaimed task keeps its entry.</summary>
    public long EntrySeq { get; set; }
    public long? Started { get; set; }
    public long? Finished { get; set; }
    public long DeadAt { get; set; }
    public long DeadStep { get; set; }

    /// <summary>The last progress a lease holder stored (percent, message, when); null when none.</summary>
    public int? Progress { get; set; }
    public string? ProgressMessage { get; set; }
    public long? ProgressAt { get; set; }

    /// <summary>The last checkpoint a lease holder stored; every later attempt receives it.</summary>
    public byte[] Checkpoint { get; set; } = [];

    /// <summary>Every token this task was ever leased with, the current one last.</summary>
    public List<string> Tokens { get; } = [];

    public bool IsFinal => State is ModelState.Completed or ModelState.DeadLettered or ModelState.Cancelled or ModelState.Expired;

    public override string ToString() => $"#{Index} {Id.LocalId[^6..]} {State}";
}

/// <summary>
/// An in-memory queue that follows the documented semantics of the store's transitions (Scripts/*.lua),
/// one step at a time. Real time between steps strictly increases (the runner sees to it), so Redis's
/// order for equal model times is the order of the steps, then the task id.
/// </summary>
internal sealed partial class QueueModel(TaskStoreOptions options)
{
    public const int Levels = TaskValidation.MaxPriority + 1;

    private readonly List<ModelTask>[] _ready = [.. Enumerable.Range(0, Levels).Select(_ => new List<ModelTask>())];

    /// <summary>Reclaimed tasks of each priority (a crashed worker's: reap.lua), in entry order, claimed before <see cref="_ready"/>.</summary>
    private readonly List<ModelTask>[] _front = [.. Enumerable.Range(0, Levels).Select(_ => new List<ModelTask>())];

    private long _entries;

    /// <summary>The clock shift in ms.</summary>
    public long Now { get; set; }

    /// <summary>The number of the step being applied.</summary>
    public long Step { get; set; }

    public List<ModelTask> Tasks { get; } = [];

    public Dictionary<string, ModelTask> Idempotency { get; } = new(StringComparer.Ordinal);

    /// <summary>The task each unique key names in Redis: set when a task with it is created (or replayed), gone once that task is final.</summary>
    public Dictionary<string, ModelTask> UniqueHolders { get; } = new(StringComparer.Ordinal);

    /// <summary>The last task created with each debounce key, until that task is final.</summary>
    public Dictionary<string, ModelTask> DebounceHolders { get; } = new(StringComparer.Ordinal);

    public HashSet<string> UniqueKeysEverUsed { get; } = new(StringComparer.Ordinal);

    public HashSet<string> DebounceKeysEverUsed { get; } = new(StringComparer.Ordinal);

    public HashSet<string> KeysEverUsed { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, long> Counters { get; } = new(StringComparer.Ordinal);

    /// <summary>Notable things the model did in the current step (for the coverage table).</summary>
    public List<string> Events { get; } = [];

    /// <summary>Priorities whose ready stream exists (created on first use, never removed).</summary>
    public SortedSet<int> LevelsUsed { get; } = [];

    /// <summary>The undelivered entries of a priority's stream, in order.</summary>
    public IReadOnlyList<ModelTask> Ready(int priority) => _ready[priority];

    /// <summary>The reclaimed entries of a priority's stream (pending for the consumer "front"), in entry order.</summary>
    public IReadOnlyList<ModelTask> Reclaimed(int priority) => _front[priority];

    public IEnumerable<ModelTask> InState(ModelState state) => Tasks.Where(t => t.State == state);

    public List<ModelTask> Leased => [.. InState(ModelState.Leased)];

    /// <summary>Dead letters oldest first, as the dead-letter zset orders them.</summary>
    public List<ModelTask> DeadLetters =>
        [.. InState(ModelState.DeadLettered).OrderBy(t => t.DeadAt).ThenBy(t => t.DeadStep).ThenBy(t => t.Id.LocalId, StringComparer.Ordinal)];

    public ModelTask? Duplicate(string? key) => key is not null && Idempotency.TryGetValue(key, out var task) ? task : null;

    /// <summary>enqueue.lua: the task holding a unique key while it is not final.</summary>
    public ModelTask? UniqueHolder(string? key) =>
        key is not null && UniqueHolders.TryGetValue(key, out var task) && task.State is ModelState.Ready or ModelState.Scheduled or ModelState.Leased
            ? task
            : null;

    /// <summary>enqueue.lua: the task a submit with this debounce key merges into, while it still waits.</summary>
    public ModelTask? DebounceTarget(string? key) =>
        key is not null && DebounceHolders.TryGetValue(key, out var task) && task.State is ModelState.Ready or ModelState.Scheduled ? task : null;

    /// <summary>debounce_into in enqueue.lua: the waiting task takes the payload, due time and expiry of this submit.</summary>
    public void Debounce(ModelTask task, EnqueueItem item, byte[] payload)
    {
        if (task.State == ModelState.Ready)
        {
            RemoveReady(task);
            Events.Add("debounce of a ready task");
        }

        task.State = ModelState.Scheduled;
        task.Payload = payload;
        task.Due = Now + (Math.Max(item.DelayUnits, item.WindowUnits) * ModelOp.UnitMs);
        task.DueStep = Step;
        task.ExpiresAt = item.ExpiryUnits > 0 ? Now + (item.ExpiryUnits * ModelOp.UnitMs) : null;
    }

    public ModelTask Add(TaskId id, EnqueueItem item, string? key, byte[] payload)
    {
        var task = new ModelTask
        {
            Index = Tasks.Count,
            Id = id,
            Type = "job-" + item.Priority,
            Payload = payload,
            Priority = item.Priority,
            MaxAttempts = item.MaxAttempts > 0 ? item.MaxAttempts : options.DefaultMaxAttempts,
            Key = key,
            ExpiresAt = item.ExpiryUnits > 0 ? Now + (item.ExpiryUnits * ModelOp.UnitMs) : null,
            Timeout = item.Timeout ? TimeSpan.FromSeconds(45) : null,
            Created = Now,
            Due = Now + (Math.Max(item.DelayUnits, item.WindowUnits) * ModelOp.UnitMs),
            DueStep = Step,
            UniqueKey = item.Unique >= 0 ? "u" + item.Unique : null,
            DebounceKey = item.Debounce >= 0 ? "d" + item.Debounce : null,
            Group = item.Group >= 0 ? GroupName(item.Group) : "",
        };
        Tasks.Add(task);
        if (key is not null)
        {
            Idempotency[key] = task;
            KeysEverUsed.Add(key);
        }

        if (task.UniqueKey is { } unique)
        {
            UniqueHolders[unique] = task;
            UniqueKeysEverUsed.Add(unique);
        }

        if (task.DebounceKey is { } debounce)
        {
            DebounceHolders[debounce] = task;
            DebounceKeysEverUsed.Add(debounce);
        }

        Count("submitted");
        if (item.DelayUnits > 0 || item.WindowUnits > 0)
        {
            task.State = ModelState.Scheduled;
        }
        else
        {
            PushReady(task);
        }

        return task;
    }

    /// <summary>Moves due scheduled tasks to ready (or expires them): lib/promote.lua.</summary>
    public (int Promoted, int Expired) PromoteDue()
    {
        var due = InState(ModelState.Scheduled)
            .Where(t => t.Due < Now)
            .OrderBy(t => t.Due).ThenBy(t => t.DueStep).ThenBy(t => t.Id.LocalId, StringComparer.Ordinal)
            .Take(options.PromoteBatchSize)
            .ToList();
        var (promoted, expired) = (0, 0);
        foreach (var task in due)
        {
            if (ExpiresNow(task))
            {
                Finish(task, ModelState.Expired, "expired");
                expired++;
            }
            else
            {
                PushReady(task);
                promoted++;
            }
        }

        return (promoted, expired);
    }

    /// <summary>
    /// claim.lua with strict priority: the tasks leased, highest priority first; within a priority the reclaimed
    /// tasks first, then in stream order.
    /// </summary>
    public (List<ModelTask> Leased, int Promoted, int Expired) Claim(int max, string worker, long leaseMs)
    {
        var (promoted, expired) = PromoteDue();
        max = AdmitFlow(max);
        var claim = new LaneClaim(worker, leaseMs, []);
        foreach (var level in Enumerable.Range(0, Levels).Reverse())
        {
            if (claim.Leased.Count < max)
            {
                ServeLevel(level, max - claim.Leased.Count, claim);
            }
        }

        var leased = claim.Leased;
        expired += claim.Expired;
        return (leased, promoted, expired);
    }

    /// <summary>take in claim.lua: leases up to <paramref name="n"/> tasks of one lane (a level's tasks of <paramref name="group"/>), reclaimed ones first; returns how many.</summary>
    private int TakeLane(int level, string group, int n, LaneClaim claim)
    {
        var got = 0;
        foreach (var stream in new[] { _front[level], _ready[level] })
        {
            while (got < n && stream.FirstOrDefault(t => t.Group == group) is { } task)
            {
                stream.Remove(task);
                if (stream == _front[level])
                {
                    Events.Add("claim of a reclaimed task");
                }

                if (ExpiresNow(task))
                {
                    Finish(task, ModelState.Expired, "expired");
                    claim.Expired++;
                    continue;
                }

                task.State = ModelState.Leased;
                task.Attempt++;
                task.Worker = claim.Worker;
                task.Started = Now;
                task.Deadline = Now + claim.LeaseMs;
                task.DeadlineStep = Step;
                claim.Leased.Add(task);
                got++;
            }
        }

        return got;
    }

    /// <summary>Expiry only bounds the wait for a first start: a task that ever started does not expire.</summary>
    private bool ExpiresNow(ModelTask task) => task.ExpiresAt is { } expires && Now >= expires && task.Started is null;

    /// <summary>check_lease in lib/common.lua.</summary>
    public TransitionResult CheckLease(ModelTask task, string token) =>
        task.State switch
        {
            ModelState.Deleted => TransitionResult.NotFound,
            ModelState.Leased when task.Token == token && task.Deadline >= Now => TransitionResult.Ok,
            ModelState.Leased when task.Token == token => Event(TransitionResult.StaleLease, "report after the lease deadline"),
            _ => TransitionResult.StaleLease,
        };

    /// <summary>A refused report of an outcome (complete, fail, release) is counted as "stale".</summary>
    private TransitionResult CheckReport(ModelTask task, string token)
    {
        var code = CheckLease(task, token);
        if (code == TransitionResult.StaleLease)
        {
            Count("stale");
        }

        return code;
    }

    public TransitionResult Complete(ModelTask task, string token, byte[] result)
    {
        var code = CheckReport(task, token);
        if (code == TransitionResult.Ok)
        {
            task.Result = result;
            task.Token = null;
            Finish(task, ModelState.Completed, "completed");
        }

        return code;
    }

    /// <summary>progress.lua: stored only while the lease token matches; a refused one changes nothing (not even "stale").</summary>
    public TransitionResult ReportProgress(ModelTask task, string token, int percent, string message)
    {
        var code = CheckLease(task, token);
        if (code == TransitionResult.Ok)
        {
            (task.Progress, task.ProgressMessage, task.ProgressAt) = (percent, message, Now);
        }

        return code;
    }

    /// <summary>checkpoint.lua: fenced like progress; with a percent the progress is stored too.</summary>
    public TransitionResult Checkpoint(ModelTask task, string token, byte[] state, int percent, string message)
    {
        var code = CheckLease(task, token);
        if (code == TransitionResult.Ok)
        {
            task.Checkpoint = state;
            if (percent >= 0)
            {
                (task.Progress, task.ProgressMessage, task.ProgressAt) = (percent, message, Now);
            }
        }

        return code;
    }

    public TransitionResult Fail(ModelTask task, string token, string error, bool retryable)
    {
        var code = CheckReport(task, token);
        return code == TransitionResult.Ok ? SettleFailure(task, error, retryable) : code;
    }

    public TransitionResult Release(ModelTask task, string token)
    {
        var code = CheckReport(task, token);
        if (code != TransitionResult.Ok)
        {
            return code;
        }

        task.Attempt--;
        task.Token = null;
        task.Worker = null;
        if (task.CancelRequested)
        {
            Finish(task, ModelState.Cancelled, "cancelled");
            return TransitionResult.Cancelled;
        }

        PushReady(task);
        return TransitionResult.Ok;
    }

    public TransitionResult Renew(ModelTask task, string token, long leaseMs)
    {
        var code = CheckLease(task, token);
        if (code != TransitionResult.Ok)
        {
            return code;
        }

        // renew.lua: an attempt past its execution timeout plus the grace (the store's default) is failed, not renewed.
        if (task.Timeout is { } timeout && task.Started is { } started
            && Now > started + (long)timeout.TotalMilliseconds + (long)BrokerOptions.DefaultExecutionTimeoutGrace.TotalMilliseconds)
        {
            SettleFailure(task, $"execution timed out after {timeout.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} s (the handler did not stop)", retryable: true);
            return TransitionResult.TimedOut;
        }

        task.Deadline = Now + leaseMs;
        task.DeadlineStep = Step;
        return task.CancelRequested ? TransitionResult.CancelRequested : TransitionResult.Ok;
    }

    /// <summary>
    /// shorten.lua: a valid lease ends after the grace unless it already ends sooner; counts the leases moved.
    /// A deadline equal in model time was set by an earlier step, so it is earlier in real time: not moved.
    /// </summary>
    public bool Shorten(ModelTask task, string token, long graceMs)
    {
        if (CheckLease(task, token) != TransitionResult.Ok || Now + graceMs >= task.Deadline)
        {
            return false;
        }

        task.Deadline = Now + graceMs;
        task.DeadlineStep = Step;
        return true;
    }

    /// <summary>
    /// reap.lua: expired leases, earliest deadline first. A worker's crash is not the task's failure: with attempts
    /// left (and no cancel asked for) the task is ready again at once, ahead of newer work of its priority, keeping
    /// its stream entry (settle_crash in lib/settle.lua); otherwise down the failure path.
    /// </summary>
    public List<(ModelTask Task, string Worker, TransitionResult Outcome)> Reap(int max)
    {
        var expired = InState(ModelState.Leased)
            .Where(t => t.Deadline < Now)
            .OrderBy(t => t.Deadline).ThenBy(t => t.DeadlineStep).ThenBy(t => t.Id.LocalId, StringComparer.Ordinal)
            .Take(max)
            .ToList();
        return [.. expired.Select(t => (t, t.Worker ?? "", SettleCrash(t) ?? SettleFailure(t, "lease expired", retryable: true)))];
    }

    private TransitionResult? SettleCrash(ModelTask task)
    {
        if (task.CancelRequested || task.Attempt >= task.MaxAttempts)
        {
            return null;
        }

        task.Error = "lease expired";
        task.Token = null;
        task.Worker = null;
        Count("failed");
        Count("retried");
        task.State = ModelState.Ready;
        task.Enqueued = Now;
        var front = _front[task.Priority];
        var at = front.FindIndex(t => t.EntrySeq > task.EntrySeq);
        front.Insert(at < 0 ? front.Count : at, task);
        OpenLane(task);
        Events.Add("reap of a crashed worker's task");
        return TransitionResult.Retrying;
    }

    /// <summary>promote.lua: promote due work, trim dead letters, report when the next scheduled task is due.</summary>
    public (int Promoted, int Expired, long? NextDueInMs) Promote()
    {
        var (promoted, expired) = PromoteDue();
        TrimDead();
        var next = InState(ModelState.Scheduled)
            .OrderBy(t => t.Due).ThenBy(t => t.DueStep).ThenBy(t => t.Id.LocalId, StringComparer.Ordinal)
            .FirstOrDefault();
        return (promoted, expired, next is null ? null : Math.Max(0, next.Due - Now));
    }

    public (TransitionResult Result, string? Worker) Cancel(ModelTask task)
    {
        switch (task.State)
        {
            case ModelState.Deleted:
                return (TransitionResult.NotFound, null);
            case ModelState.Ready:
                Events.Add(_front[task.Priority].Contains(task) ? "cancel of a reclaimed task" : "cancel of a ready task");
                RemoveReady(task);
                break;
            case ModelState.Scheduled:
                break;
            case ModelState.Leased:
                Events.Add(task.Deadline < Now ? "cancel of a lapsed lease" : "cancel of a running task");
                task.CancelRequested = true;
                return (TransitionResult.CancelRequested, task.Worker);
            case ModelState.Cancelled:
                return (TransitionResult.Cancelled, null);
            default:
                return (TransitionResult.AlreadyFinished, null);
        }

        Finish(task, ModelState.Cancelled, "cancelled");
        return (TransitionResult.Cancelled, null);
    }

    /// <summary>replay.lua with the given tasks, or every dead letter (oldest first) when there are none.</summary>
    public long Replay(IReadOnlyList<ModelTask> picked)
    {
        var replayed = 0;
        foreach (var task in picked.Count == 0 ? DeadLetters : picked)
        {
            if (task.State != ModelState.DeadLettered)
            {
                continue;
            }

            // A dead letter takes its unique key again, unless another task that is not final holds it: then it stays.
            if (task.UniqueKey is { } unique)
            {
                if (UniqueHolder(unique) is { } holder && holder != task)
                {
                    Events.Add("replay: a dead letter stays, its unique key is taken");
                    continue;
                }

                UniqueHolders[unique] = task;
            }

            task.Attempt = 0;
            task.CancelRequested = false;
            task.Finished = null;
            task.Due = Now;
            task.DueStep = Step;
            PushReady(task);
            replayed++;
        }

        if (replayed > 0)
        {
            Count("replayed", replayed);
        }

        return replayed;
    }

    /// <summary>purge.lua with the given tasks, or every dead letter when there are none.</summary>
    public long Purge(IReadOnlyList<ModelTask> picked)
    {
        var purged = 0;
        foreach (var task in picked.Count == 0 ? DeadLetters : picked)
        {
            if (task.State == ModelState.DeadLettered)
            {
                DeleteDead(task);
                purged++;
            }
        }

        return purged;
    }

    /// <summary>settle_failure in lib/settle.lua.</summary>
    private TransitionResult SettleFailure(ModelTask task, string error, bool retryable)
    {
        task.Error = error;
        task.Token = null;
        task.Worker = null;
        Count("failed");
        if (task.CancelRequested)
        {
            Finish(task, ModelState.Cancelled, "cancelled");
            return TransitionResult.Cancelled;
        }

        if (retryable && task.Attempt < task.MaxAttempts)
        {
            Count("retried");
            var delay = BackoffMs(task.Attempt);
            if (delay <= 0)
            {
                PushReady(task);
                return TransitionResult.Retrying;
            }

            task.State = ModelState.Scheduled;
            task.Due = Now + delay;
            task.DueStep = Step;
            return TransitionResult.Retrying;
        }

        task.State = ModelState.DeadLettered;
        ReleaseKeys(task);
        task.Finished = Now;
        task.DeadAt = Now;
        task.DeadStep = Step;
        Count("dead");
        TrimDead();
        return TransitionResult.DeadLettered;
    }

    /// <summary>The backoff without jitter, computed independently of BackoffPolicy: Initial × Multiplier^(attempt−1), capped.</summary>
    private long BackoffMs(int attempt)
    {
        var delay = options.BackoffInitial.TotalMilliseconds;
        for (var i = 1; i < Math.Max(attempt, 1); i++)
        {
            delay *= options.BackoffMultiplier;
        }

        return (long)Math.Min(delay, options.BackoffMax.TotalMilliseconds);
    }

    /// <summary>trim_dead in lib/common.lua: first by age, then the oldest beyond the count.</summary>
    private void TrimDead()
    {
        var maxAge = (long)options.DeadLetterMaxAge.TotalMilliseconds;
        foreach (var task in DeadLetters.Where(t => t.DeadAt <= Now - maxAge).Take(1000).ToList())
        {
            DeleteDead(task);
            Events.Add("dead letter trimmed by age");
        }

        var dead = DeadLetters;
        foreach (var task in dead.Take(Math.Max(0, dead.Count - options.DeadLetterMaxCount)))
        {
            DeleteDead(task);
            Events.Add("dead letter trimmed by count");
        }
    }

    private void DeleteDead(ModelTask task)
    {
        if (task.Key is { } key && Idempotency.TryGetValue(key, out var owner) && owner == task)
        {
            Idempotency.Remove(key);
        }

        task.State = ModelState.Deleted;
    }

    /// <summary>release_keys in lib/common.lua: a final task frees the keys it still holds.</summary>
    private void ReleaseKeys(ModelTask task)
    {
        if (task.UniqueKey is { } unique && UniqueHolders.GetValueOrDefault(unique) == task)
        {
            UniqueHolders.Remove(unique);
        }

        if (task.DebounceKey is { } debounce && DebounceHolders.GetValueOrDefault(debounce) == task)
        {
            DebounceHolders.Remove(debounce);
        }
    }

    private void Finish(ModelTask task, ModelState state, string counter)
    {
        ReleaseKeys(task);
        task.State = state;
        task.Finished = Now;
        Count(counter);
    }

    private void RemoveReady(ModelTask task)
    {
        _ready[task.Priority].Remove(task);
        _front[task.Priority].Remove(task);
    }

    private void PushReady(ModelTask task)
    {
        task.State = ModelState.Ready;
        task.Enqueued = Now;
        task.EntrySeq = ++_entries;
        _ready[task.Priority].Add(task);
        OpenLane(task);
    }

    private TransitionResult Event(TransitionResult result, string what)
    {
        Events.Add(what);
        return result;
    }

    public void Count(string counter, long by = 1) => Counters[counter] = Counters.GetValueOrDefault(counter) + by;
}
