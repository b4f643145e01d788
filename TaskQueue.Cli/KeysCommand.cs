using System.CommandLine;
using System.Text.Json;
using TaskQueue.Protocol;

namespace TaskQueue.Cli;

/// <summary>
/// <c>taskqueue keys new --name workers --scope consume:*</c>: makes a new API key and prints it once, with the
/// broker configuration that accepts it (its SHA-256 and scopes, never the key) as environment lines and as a
/// KeysFile entry. How operators issue keys, and rotate them: a new key under the same name replaces the old one
/// in the broker's configuration. Needs no broker.
/// </summary>
internal static class KeysCommand
{
    private static readonly string[] s_actions = [ScopeActions.Submit, ScopeActions.Consume, ScopeActions.Read, ScopeActions.Admin];

    public static Command Create() => new("keys", "Issue API keys for the broker's configuration.") { CreateNew() };

    private static Command CreateNew()
    {
        var name = new Option<string>("--name", "-n")
        {
            Description = "The key's name: the caller's identity becomes key:<name> (letters, digits, '-', '_').",
            Required = true,
        };
        name.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string>() is not { Length: > 0 and <= 64 } value || !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                result.AddError("--name must be 1 to 64 letters, digits, '-' or '_'.");
            }
        });
        var scopes = new Option<string[]>("--scope", "-s")
        {
            Description = "A scope the key grants, action:queue-pattern with action submit, consume, read or admin and * as a wildcard " +
                "(consume:*, submit:billing-*). Repeat for several.",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
            HelpName = "scope",
        };
        scopes.Validators.Add(result =>
        {
            foreach (var scope in result.GetValueOrDefault<string[]>() ?? [])
            {
                var separator = scope.IndexOf(':', StringComparison.Ordinal);
                if (separator <= 0 || separator == scope.Length - 1 || !s_actions.Contains(scope[..separator], StringComparer.Ordinal)
                    || scope.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '{' or '}') || scope.IndexOf(':', separator + 1) >= 0)
                {
                    result.AddError($"'{scope}' is not a scope: action:queue-pattern with action submit, consume, read or admin (e.g. consume:*).");
                }
            }
        });
        var json = TaskQueueCli.JsonOption();
        var command = new Command("new", "Make a new API key; print it and the broker configuration lines for it.") { name, scopes, json };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var output = parseResult.InvocationConfiguration.Output;
            var keyName = parseResult.GetRequiredValue(name);
            var granted = parseResult.GetRequiredValue(scopes);
            var key = ApiKeys.Create();
            var hash = ApiKeys.Hash(key);
            var entry = new Dictionary<string, object> { ["Sha256"] = hash, ["Scopes"] = granted };
            var keysFile = new { TaskQueue = new { Security = new { ApiKeys = new Dictionary<string, object> { [keyName] = entry } } } };
            if (parseResult.GetValue(json))
            {
                await output.WriteLineAsync(JsonSerializer.Serialize(new { name = keyName, key, sha256 = hash, scopes = granted, keysFile }));
                return CliHost.ExitOk;
            }

            await output.WriteLineAsync($"API key for key:{keyName} (shown once; give it to the caller as TaskQueue__ApiKey):");
            await output.WriteLineAsync(key);
            await output.WriteLineAsync();
            await output.WriteLineAsync("Broker configuration (environment):");
            await output.WriteLineAsync($"TaskQueue__Security__ApiKeys__{keyName}__Sha256={hash}");
            for (var i = 0; i < granted.Length; i++)
            {
                await output.WriteLineAsync($"TaskQueue__Security__ApiKeys__{keyName}__Scopes__{i}={granted[i]}");
            }

            await output.WriteLineAsync();
            await output.WriteLineAsync("Or in the broker's KeysFile (TaskQueue__Security__KeysFile; merge into its ApiKeys, reloaded on change):");
            await output.WriteLineAsync(JsonSerializer.Serialize(keysFile));
            return CliHost.ExitOk;
        });
        return command;
    }
}
