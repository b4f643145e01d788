using System.Diagnostics.CodeAnalysis;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;

namespace TaskQueue.Broker.Security;

/// <summary>
/// One granted scope, "action:queue-pattern" (<c>consume:*</c>, <c>read:billing-*</c>): an action of
/// <see cref="ScopeActions"/> on the queues the pattern matches, where <c>*</c> matches any run of characters
/// (none included), in <see cref="ScopeGrammar"/>'s grammar (shared with the operator dashboard). Pure, so the rules
/// have fast unit tests.
/// </summary>
internal readonly record struct Scope(string Action, string Pattern)
{
    private static readonly string[] s_actions = [ScopeActions.Submit, ScopeActions.Consume, ScopeActions.Read, ScopeActions.Admin];

    public override string ToString() => Action + ":" + Pattern;

    /// <summary>Parses "action:pattern"; false for an unknown action or a pattern that could match no queue name.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out Scope? scope)
    {
        scope = null;
        if (!ScopeGrammar.TrySplit(text, out var action, out var pattern) || !s_actions.Contains(action, StringComparer.Ordinal) || !IsPattern(pattern))
        {
            return false;
        }

        scope = new Scope(action, pattern);
        return true;
    }

    /// <summary>True when this scope allows <paramref name="action"/> on <paramref name="queue"/>; admin implies read.</summary>
    public bool Allows(string action, string queue) => Covers(action) && Matches(Pattern, queue);

    /// <summary>True when this scope allows <paramref name="action"/> on at least one queue.</summary>
    public bool Covers(string action) => ScopeGrammar.Covers(Action, action);

    /// <summary>Glob matching with <c>*</c> only (<see cref="ScopeGrammar.Matches"/>).</summary>
    public static bool Matches(string pattern, string text) => ScopeGrammar.Matches(pattern, text);

    // A pattern is a queue name in which '*' may stand anywhere: the same characters are refused.
    private static bool IsPattern(string pattern) =>
        pattern.Length is > 0 and <= TaskValidation.MaxQueueNameLength && TaskValidation.QueueNameProblem(pattern.Replace('*', 'x')) is null;
}

/// <summary>What a set of scopes grants: the one place the broker decides "may this caller do that".</summary>
internal static class Scopes
{
    /// <summary>True when some scope allows <paramref name="action"/> on every queue of <paramref name="queues"/>.</summary>
    public static bool Allow(IEnumerable<Scope> granted, string action, IEnumerable<string> queues)
    {
        var list = granted as IReadOnlyCollection<Scope> ?? [.. granted];
        return queues.All(queue => list.Any(scope => scope.Allows(action, queue)));
    }

    /// <summary>True when some scope allows <paramref name="action"/> on at least one queue (GET /workers: read on any queue).</summary>
    public static bool AllowAny(IEnumerable<Scope> granted, string action) => granted.Any(scope => scope.Covers(action));

    /// <summary>
    /// Parses configured scopes: each entry one scope or several separated by spaces. Throws
    /// <see cref="ArgumentException"/> naming the first that is not a scope.
    /// </summary>
    public static IReadOnlyList<Scope> Parse(IEnumerable<string?> entries, string setting)
    {
        var scopes = new List<Scope>();
        foreach (var text in entries.SelectMany(e => (e ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            scopes.Add(Scope.TryParse(text, out var scope)
                ? scope.Value
                : throw new ArgumentException(
                    $"{setting}: '{text}' is not a scope; expected action:queue-pattern with action submit, consume, read or admin (e.g. consume:*, read:billing-*)."));
        }

        return scopes;
    }
}
