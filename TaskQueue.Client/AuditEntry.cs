namespace TaskQueue.Client;

/// <summary>One admin action on the broker's audit trail (a cancel, a dead-letter replay or purge, ...), done or refused.</summary>
public sealed record AuditEntry
{
    /// <summary>The entry's id in the trail; pass it as <c>before</c> to read the entries older than it.</summary>
    public required string Id { get; init; }

    /// <summary>When the broker recorded it (Redis's clock).</summary>
    public DateTimeOffset Time { get; init; }

    /// <summary>Who did it: "key:&lt;name&gt;", "jwt:&lt;subject&gt;", "cert:&lt;name&gt;", or "anonymous" when security is off.</summary>
    public required string Identity { get; init; }

    /// <summary>What was done: "cancel", "dead-letters.replay", "dead-letters.purge", ...</summary>
    public required string Action { get; init; }

    /// <summary>The queue it was done on.</summary>
    public required string Queue { get; init; }

    /// <summary>What it acted on: a task id, a list of them, or "all".</summary>
    public required string Target { get; init; }

    /// <summary>"ok" (with what was done, e.g. "ok: 3 replayed"), or why not: "denied", "not-found", "failed-precondition", ...</summary>
    public required string Outcome { get; init; }
}

/// <summary>One page of the audit trail, newest first, and the cursor of the next (older) page: null when there is none.</summary>
public sealed record AuditPage(IReadOnlyList<AuditEntry> Entries, string? NextBefore);
