using System.Security.Cryptography;
using TaskQueue.Worker.Handlers;

namespace TaskQueue.WorkerService.Handlers;

/// <summary>
/// "cpu": hashes its payload with SHA-256, then the hash again, for the payload's number of iterations
/// (UTF-8 text). Returns the final hash as lowercase hex.
/// </summary>
internal sealed class CpuTaskHandler : ITaskHandler
{
    // Yield the thread-pool thread this often so many cpu tasks cannot starve the worker's own loops.
    private const int IterationsPerSlice = 4096;

    public string TaskType => "cpu";

    public async Task<ReadOnlyMemory<byte>> HandleAsync(TaskContext context, CancellationToken cancellationToken)
    {
        var iterations = PayloadParsing.ReadNonNegativeInteger(context, "an iteration count");
        var hash = SHA256.HashData(context.Payload.Span);
        var progressStep = Math.Max(iterations / 10, 1);
        var nextProgress = progressStep;

        for (long done = 0; done < iterations;)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var slice = Math.Min(IterationsPerSlice, iterations - done);
            HashRepeatedly(hash, slice);
            done += slice;

            if (done >= nextProgress && done < iterations)
            {
                nextProgress += progressStep;
                await context.ReportProgressAsync((int)(done * 100 / iterations), null, cancellationToken);
            }

            await Task.Yield();
        }

        return TaskResults.FromText(Convert.ToHexStringLower(hash));
    }

    private static void HashRepeatedly(byte[] hash, long count)
    {
        Span<byte> buffer = stackalloc byte[SHA256.HashSizeInBytes];
        hash.CopyTo(buffer);
        for (long i = 0; i < count; i++)
        {
            SHA256.HashData(buffer, buffer);
        }

        buffer.CopyTo(hash);
    }
}
