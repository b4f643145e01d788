using TaskQueue.Protocol;

namespace TaskQueue.Dashboard.Signing;

/// <summary>
/// The signed-in operator's scopes ("read:billing-*", "admin:*"), as the broker told them at sign-in: the pages use them
/// only to hide what the operator may not do. The broker decides every call on its own (a forged request is refused there).
/// The rules are the broker's own, from the one <see cref="ScopeGrammar"/> both compile (protos/Shared/Scopes.cs).
/// </summary>
public sealed class OperatorScopes(IReadOnlyList<string> scopes)
{
    public IReadOnlyList<string> All => scopes;

    public bool MayRead(string queue) => Allows(ScopeActions.Read, queue);

    public bool MayAdmin(string queue) => Allows(ScopeActions.Admin, queue);

    /// <summary>True when some scope grants admin on at least one queue (the audit trail).</summary>
    public bool MayAdminAny => scopes.Any(scope => ScopeGrammar.TrySplit(scope, out var action, out _) && action == ScopeActions.Admin);

    public bool Allows(string action, string queue) =>
        scopes.Any(scope => ScopeGrammar.TrySplit(scope, out var granted, out var pattern)
            && ScopeGrammar.Covers(granted, action)
            && ScopeGrammar.Matches(pattern, queue));
}
