using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;

namespace TaskQueue.Hosting;

/// <summary>Hands a section of the AppHost's configuration to a process as environment variables.</summary>
internal static class ConfigurationForwarding
{
    /// <summary>
    /// Every value under <paramref name="sectionName"/> (e.g. "TaskQueue:Broker:LeaseDuration") becomes the
    /// environment variable the process's configuration reads the same key from ("TaskQueue__Broker__LeaseDuration").
    /// </summary>
    public static IResourceBuilder<T> WithConfigurationSection<T>(
        this IResourceBuilder<T> builder, IConfiguration configuration, string sectionName)
        where T : IResourceWithEnvironment
    {
        foreach (var (key, value) in configuration.GetSection(sectionName).AsEnumerable())
        {
            if (value is not null)
            {
                builder.WithEnvironment(key.Replace(":", "__", StringComparison.Ordinal), value);
            }
        }

        return builder;
    }
}
