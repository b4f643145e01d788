using System.CommandLine;
using TaskQueue.Benchmarks.StoreBench;
using TaskQueue.Benchmarks.SystemBench;

namespace TaskQueue.Benchmarks;

/// <summary>The benchmarks' command line: <c>system</c> (System.CommandLine options) and <c>store</c> (its own, see <c>store --help</c>).</summary>
internal static class BenchmarkCli
{
    public static async Task<int> InvokeAsync(
        string[] args, TextWriter? output = null, TextWriter? error = null, CancellationToken cancellationToken = default)
    {
        // The store benchmark reads its own arguments (and prints its own usage for --help).
        if (args is ["store", .. var storeArgs])
        {
            return await StoreBenchmark.RunAsync(storeArgs);
        }

        var root = new RootCommand("TaskQueue benchmarks.")
        {
            BenchCommand.Create(),
            new Command("store", "Throughput of the broker's Redis store alone against plain Redis streams (`store --help` for its options)."),
        };
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
}
