using Microsoft.Extensions.Configuration;

namespace TaskQueue.AppHost;

/// <summary>Hands a section of the AppHost's configuration to a service as environment variables.</summary>
public static class ConfigurationForwardingExtensions
{
    /// <summary>
    /// Every value under <paramref name="sectionName"/> (e.g. "Worker:Concurrency") becomes the environment
    /// variable the service's configuration reads the same key from ("Worker__Concurrency").
    /// </summary>
    public static IResourceBuilder<T> WithConfigurationSection<T>(
        this IResourceBuilder<T> builder, IConfiguration configuration, string sectionName)
        where T : IResourceWithEnvironment
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configuration);

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
