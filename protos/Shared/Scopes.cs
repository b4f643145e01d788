namespace TaskQueue.Protocol;

/// <summary>The actions a scope grants on a queue (a scope is "action:queue-pattern", e.g. "consume:*", "read:billing-*").</summary>
internal static class ScopeActions
{
    /// <summary>Submit and SubmitBatch.</summary>
    public const string Submit = "submit";

    /// <summary>WorkerService.Connect for the queues in the Hello.</summary>
    public const string Consume = "consume";

    /// <summary>Get, Wait, GetQueueStats, ListDeadLetters; HTTP /workers, /dlq (and /metrics when it is not open).</summary>
    public const string Read = "read";

    /// <summary>Cancel, dead-letter replay and purge, the audit trail (and read on the same queues).</summary>
    public const string Admin = "admin";
}

/// <summary>
/// The grammar of a scope, "action:queue-pattern", defined once: the broker decides every call with it
/// (TaskQueue.Broker/Security/Scope.cs) and the operator dashboard, which links this file, hides the controls a
/// signed-in operator's scopes do not allow. <c>*</c> in a pattern matches any run of characters (none included);
/// admin implies read.
/// </summary>
internal static class ScopeGrammar
{
    /// <summary>Splits "action:pattern" at its first ':'; false when there is no action before one.</summary>
    public static bool TrySplit(string? scope, out string action, out string pattern)
    {
        var separator = scope?.IndexOf(':', StringComparison.Ordinal) ?? -1;
        (action, pattern) = separator > 0 ? (scope![..separator], scope[(separator + 1)..]) : ("", "");
        return separator > 0;
    }

    /// <summary>True when a scope of action <paramref name="granted"/> allows <paramref name="action"/>: the same, or admin for read.</summary>
    public static bool Covers(string granted, string action) =>
        string.Equals(granted, action, StringComparison.Ordinal)
        || (action == ScopeActions.Read && granted == ScopeActions.Admin);

    /// <summary>Glob matching with <c>*</c> only (any run of characters), ordinal, linear in practice (greedy with one backtrack point).</summary>
    public static bool Matches(string pattern, string text)
    {
        int p = 0, t = 0, star = -1, resume = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                resume = t;
            }
            else if (p < pattern.Length && pattern[p] == text[t])
            {
                p++;
                t++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++resume;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}
