using System.CommandLine;
using System.CommandLine.Parsing;
using Microsoft.Extensions.Configuration;
using TaskQueue.Client;
using TaskQueue.Protocol;

namespace TaskQueue.Cli;

/// <summary>The taskqueue command line: submit, get, wait, cancel, dlq, list, stats, audit, schedule, load, demo, keys.</summary>
internal static class TaskQueueCli
{
    public static async Task<int> InvokeAsync(
        string[] args,
        TextWriter? output = null,
        TextWriter? error = null,
        IConfiguration? configuration = null,
        CancellationToken cancellationToken = default)
    {
        var root = BuildRootCommand(configuration ?? CliHost.LoadConfiguration());
        var invocation = new InvocationConfiguration();
        if (output is not null)
        {
            invocation.Output = output;
        }

        if (error is not null)
        {
            invocation.Error = error;
        }

        return await root.Parse(args).InvokeAsync(invocation, cancellationToken);
    }

    public static RootCommand BuildRootCommand(IConfiguration configuration)
    {
        var defaultBroker = CliHost.DefaultBrokerAddresses(configuration);
        var broker = new Option<Uri[]>("--broker")
        {
            Description = "Broker gRPC address, or several separated by commas (calls go round-robin). Default: TaskQueue:BrokerAddress " +
                $"(env TaskQueue__BrokerAddress), else ConnectionStrings:taskqueue, else the discovered broker under Aspire, else {CliHost.LocalBrokerAddress}.",
            Recursive = true,
            HelpName = "url[,url...]",
            DefaultValueFactory = _ => [.. defaultBroker],
            CustomParser = ParseBrokerAddresses,
            Arity = ArgumentArity.ExactlyOne,
        };
        var caCertificate = new Option<string?>("--ca-certificate")
        {
            Description = "A PEM or DER file of the CA that issued an https:// broker's certificate, trusted instead of the system store. " +
                "Default: TaskQueue:Tls:CaCertificatePath (env TaskQueue__Tls__CaCertificatePath), else the system store.",
            Recursive = true,
            HelpName = "path",
        };
        var apiKey = new Option<string?>("--api-key")
        {
            Description = "The API key sent to the broker (Authorization: Bearer). Default: TaskQueue:ApiKey (env TaskQueue__ApiKey). " +
                "Prefer the environment: a key on the command line shows in the process list.",
            Recursive = true,
            HelpName = "key",
            DefaultValueFactory = _ => configuration[ApiKeys.ConfigurationKey] is { Length: > 0 } configured ? configured : null,
        };
        var host = new CliHost(broker, apiKey) { CaCertificateOption = caCertificate };

        var root = new RootCommand("TaskQueue client: submit and manage tasks.")
        {
            broker,
            apiKey,
            caCertificate,
            SubmitCommand.Create(host),
            TaskCommands.CreateGet(host),
            TaskCommands.CreateWait(host),
            TaskCommands.CreateCancel(host),
            WhyCommand.Create(host),
            DeadLetterCommand.Create(host),
            ListCommand.Create(host),
            StatsCommand.Create(host),
            QueueCommand.Create(host),
            WorkersCommand.Create(host),
            AuditCommand.Create(host),
            ScheduleCommand.Create(host),
            LoadCommand.Create(host),
            DemoCommand.Create(host),
            KeysCommand.Create(),
        };
        return root;
    }

    internal static Option<string> QueueOption() => new("--queue", "-q")
    {
        Description = "Queue name.",
        DefaultValueFactory = _ => TaskRequest.DefaultQueue,
    };

    internal static Option<TimeSpan?> DurationOption(string name, string description) => new(name)
    {
        Description = description + " (e.g. 500ms, 5s, 2m, 00:01:00)",
        HelpName = "duration",
        CustomParser = result => DurationParser.Parse(result),
    };

    internal static Option<bool> JsonOption() => new("--json")
    {
        Description = "Print one JSON document (camelCase fields) instead of text.",
    };

    private static Uri[] ParseBrokerAddresses(ArgumentResult result)
    {
        var token = result.Tokens.Count > 0 ? result.Tokens[^1].Value : string.Empty;
        if (TaskQueueClientOptions.TryParseBrokerAddresses(token, out var addresses, out _))
        {
            return [.. addresses];
        }

        result.AddError($"'{token}' is not an http:// or https:// address (or several, separated by commas).");
        return [TaskQueueClientOptions.DefaultBrokerAddress];
    }
}
