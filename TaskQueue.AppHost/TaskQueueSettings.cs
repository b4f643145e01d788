using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace TaskQueue.AppHost;

/// <summary>
/// The AppHost's own knobs, read from its configuration: appsettings.json, environment variables, or the
/// command line (<c>dotnet run --project TaskQueue.AppHost -- --Workers=8 --Worker:Concurrency=16</c>).
/// </summary>
/// <remarks>
/// Besides these, the AppHost forwards two sections as they are: <c>Worker:*</c> to every worker
/// (<c>Worker__Concurrency</c>, <c>Worker__Queues</c>, <c>Worker__DrainTimeout</c>) and <c>TaskQueue:*</c> to every
/// broker (<c>TaskQueue__Broker__LeaseDuration</c>, <c>TaskQueue__Store__BackoffInitial</c>, ...).
/// </remarks>
public sealed record TaskQueueSettings(int Workers, int Brokers, bool Demo, RedisSettings Redis)
{
    public const int DefaultWorkers = 4;
    public const int DefaultBrokers = 1;
    private const int MaxReplicas = 256;

    public static TaskQueueSettings From(IConfiguration configuration, string appHostDirectory) => new(
        Workers: ReadCount(configuration, "Workers", DefaultWorkers),
        Brokers: ReadCount(configuration, "Brokers", DefaultBrokers),
        Demo: ReadBool(configuration, "Demo", defaultValue: true),
        Redis: RedisSettings.From(configuration, appHostDirectory));

    private static int ReadCount(IConfiguration configuration, string key, int defaultValue)
    {
        var raw = configuration[key];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return defaultValue;
        }

        return int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value is >= 1 and <= MaxReplicas
            ? value
            : throw new InvalidOperationException($"Setting '{key}' must be a whole number from 1 to {MaxReplicas}; it is '{raw}'.");
    }

    internal static bool ReadBool(IConfiguration configuration, string key, bool defaultValue)
    {
        var raw = configuration[key];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return defaultValue;
        }

        return bool.TryParse(raw, out var value)
            ? value
            : throw new InvalidOperationException($"Setting '{key}' must be true or false; it is '{raw}'.");
    }
}
