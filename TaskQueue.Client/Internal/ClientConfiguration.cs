using System.Globalization;
using Microsoft.Extensions.Configuration;
using TaskQueue.Protocol;

namespace TaskQueue.Client.Internal;

/// <summary>
/// Reads <see cref="TaskQueueClientOptions"/> from configuration: the "TaskQueue" section, and the
/// "taskqueue" connection string when that section names no broker (see the precedence on the options).
/// </summary>
internal static class ClientConfiguration
{
    public static void Apply(TaskQueueClientOptions options, IConfiguration configuration)
    {
        var section = configuration.GetSection(TaskQueueClientOptions.SectionName);
        var list = section.GetSection(nameof(TaskQueueClientOptions.BrokerAddresses)).GetChildren()
            .Select(child => child.Value).OfType<string>().Where(value => value.Length > 0).ToList();
        if (list.Count > 0)
        {
            options.BrokerAddresses = [.. list.Select(Address)];
        }
        else if (section[nameof(TaskQueueClientOptions.BrokerAddress)] is { Length: > 0 } single)
        {
            options.BrokerAddress = Address(single);
        }
        else if (configuration.GetConnectionString(TaskQueueClientOptions.ConnectionStringName) is { Length: > 0 } connectionString)
        {
            if (!TaskQueueClientOptions.TryParseBrokerAddresses(connectionString, out var addresses, out var invalid))
            {
                throw new InvalidOperationException(
                    $"ConnectionStrings:{TaskQueueClientOptions.ConnectionStringName} must be one or more absolute http:// or https:// " +
                    $"broker addresses separated by commas; it has '{string.Join("', '", invalid)}'.");
            }

            options.BrokerAddresses = addresses;
        }

        BrokerChannel.ReadTls(options.Tls, section.GetSection(BrokerTls.SectionName));

        if (section[nameof(TaskQueueClientOptions.ApiKey)] is { Length: > 0 } apiKey)
        {
            options.ApiKey = apiKey;
        }

        if (section[nameof(TaskQueueClientOptions.RequestTimeout)] is { Length: > 0 } timeout)
        {
            options.RequestTimeout = TimeSpan.TryParse(timeout, CultureInfo.InvariantCulture, out var value)
                ? value
                : throw Invalid(nameof(TaskQueueClientOptions.RequestTimeout), timeout, "a time span such as 00:00:30");
        }

        if (section[nameof(TaskQueueClientOptions.BatchSize)] is { Length: > 0 } batch)
        {
            options.BatchSize = int.TryParse(batch, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
                ? value
                : throw Invalid(nameof(TaskQueueClientOptions.BatchSize), batch, "a whole number");
        }
    }

    /// <summary>Any text becomes a Uri; the validator says what is wrong with one that is not an absolute http(s) address.</summary>
    private static Uri Address(string text) =>
        Uri.TryCreate(text, UriKind.RelativeOrAbsolute, out var address) ? address : new Uri(Uri.EscapeDataString(text), UriKind.Relative);

    private static InvalidOperationException Invalid(string name, string value, string expected) =>
        new($"{TaskQueueClientOptions.SectionName}:{name} must be {expected}; it is '{value}'.");
}
