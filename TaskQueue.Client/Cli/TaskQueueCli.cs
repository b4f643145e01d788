using System.CommandLine;
using System.CommandLine.Parsing;
using Microsoft.Extensions.Configuration;

namespace TaskQueue.Client.Cli;

/// <summary>The taskqueue command line: submit, get, wait, cancel, dlq, stats, load, demo, bench.</summary>
public static class TaskQueueCli
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
        var defaultBroker = CliHost.DefaultBrokerAddress(configuration);
        var broker = new Option<Uri>("--broker")
        {
            Description = $"Broker gRPC address. Default: TaskQueue:BrokerAddress (env TaskQueue__BrokerAddress), else the discovered broker under Aspire, else {CliHost.LocalBrokerAddress}.",
            Recursive = true,
            HelpName = "url",
            DefaultValueFactory = _ => defaultBroker,
            CustomParser = ParseBrokerAddress,
        };
        var host = new CliHost(broker);

        var root = new RootCommand("TaskQueue client: submit and manage tasks.")
        {
            broker,
            SubmitCommand.Create(host),
            TaskCommands.CreateGet(host),
            TaskCommands.CreateWait(host),
            TaskCommands.CreateCancel(host),
            DeadLetterCommand.Create(host),
            StatsCommand.Create(host),
            LoadCommand.Create(host),
            DemoCommand.Create(host),
            Bench.BenchCommand.Create(),
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

    private static Uri ParseBrokerAddress(ArgumentResult result)
    {
        var token = result.Tokens.Count > 0 ? result.Tokens[^1].Value : string.Empty;
        if (Uri.TryCreate(token, UriKind.Absolute, out var address)
            && (address.Scheme == Uri.UriSchemeHttp || address.Scheme == Uri.UriSchemeHttps))
        {
            return address;
        }

        result.AddError($"'{token}' is not an http:// or https:// address.");
        return TaskQueueClientOptions.DefaultBrokerAddress;
    }
}
