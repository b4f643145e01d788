namespace TaskQueue.Client;

/// <summary>
/// Who the broker takes the caller for and the scopes it holds ("read:billing-*", "admin:*"): what a UI needs to
/// hide the controls the caller may not use. The broker authorises every call on its own regardless.
/// </summary>
public sealed record CallerInfo(string Identity, IReadOnlyList<string> Scopes);
