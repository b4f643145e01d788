namespace TaskQueue.Dashboard.Signing;

/// <summary>
/// The signed-in operator's scopes ("read:billing-*", "admin:*"), as the broker told them at sign-in: the pages use them
/// only to hide what the operator may not do. The broker decides every call on its own (a forged request is refused there).
/// The rules are the broker's: action:pattern, '*' matches any run of characters, admin implies read.
/// </summary>
public sealed class OperatorScopes(IReadOnlyList<string> scopes)
{
    public const string Read = "read";
    public const string Admin = "admin";

    public IReadOnlyList<string> All => scopes;

    public bool MayRead(string queue) => Allows(Read, queue);

    public bool MayAdmin(string queue) => Allows(Admin, queue);

    /// <summary>True when some scope grants admin on at least one queue (the audit trail).</summary>
    public bool MayAdminAny => scopes.Any(scope => ActionOf(scope) == Admin);

    public bool Allows(string action, string queue) =>
        scopes.Any(scope => ActionOf(scope) is { } granted
            && (granted == action || (action == Read && granted == Admin))
            && Matches(scope[(granted.Length + 1)..], queue));

    private static string? ActionOf(string scope) => scope.IndexOf(':', StringComparison.Ordinal) is > 0 and var separator ? scope[..separator] : null;

    /// <summary>Glob matching with '*' only, ordinal.</summary>
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
