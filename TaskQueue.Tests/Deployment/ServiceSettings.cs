using System.Collections;
using System.Reflection;
using System.Text.Json;
using TaskQueue.Broker;
using TaskQueue.Broker.Extensions;
using TaskQueue.Broker.Storage;
using TaskQueue.Client;
using TaskQueue.Protocol;
using TaskQueue.Worker;

namespace TaskQueue.Tests.Deployment;

/// <summary>
/// The environment variables each TaskQueue service reads, taken from its code: the public settable
/// properties of its option classes under their section names, the broker's Redis connection string
/// name and Kestrel endpoint names, and the infrastructure settings every .NET host reads (OpenTelemetry,
/// logging, hosting). Keys compare as .NET configuration compares them: case-insensitively.
/// </summary>
internal sealed class ServiceSettings
{
    public const string OtlpEndpoint = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string ServiceName = "OTEL_SERVICE_NAME";

    /// <summary>Variables the OpenTelemetry SDK and its OTLP exporter read (ServiceDefaults turns the exporter on).</summary>
    public static readonly IReadOnlySet<string> OpenTelemetryVariables = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        OtlpEndpoint, "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        ServiceName, "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SDK_DISABLED",
        "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_EXPORT_TIMEOUT", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "OTEL_BLRP_SCHEDULE_DELAY", "OTEL_BLRP_EXPORT_TIMEOUT", "OTEL_BLRP_MAX_QUEUE_SIZE", "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
        "OTEL_METRIC_EXPORT_INTERVAL", "OTEL_METRIC_EXPORT_TIMEOUT", "OTEL_METRICS_EXEMPLAR_FILTER",
        "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_SPAN_EVENT_COUNT_LIMIT",
        "OTEL_SPAN_LINK_COUNT_LIMIT", "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
    };

    private readonly HashSet<string> _exact = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<string> _prefixes = [];

    private ServiceSettings(string service, string project)
    {
        Service = service;
        Project = project;
        _exact.UnionWith(OpenTelemetryVariables);
        _prefixes.AddRange(["Logging__", "DOTNET_"]);
    }

    /// <summary>The compose service, named as the AppHost names the resource.</summary>
    public string Service { get; }

    public string Project { get; }

    /// <summary>Variables without which the service does not run as deployed.</summary>
    public List<string> Required { get; } = [OtlpEndpoint, ServiceName];

    /// <summary>The broker's Kestrel endpoints (name → configuration keys), from its appsettings.json.</summary>
    public static IReadOnlyList<string> BrokerEndpointNames
    {
        get
        {
            var path = Path.Combine(ComposeFile.RepositoryRoot, "TaskQueue.Broker", "appsettings.json");
            using var json = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            return [.. json.RootElement.GetProperty("Kestrel").GetProperty("Endpoints").EnumerateObject().Select(endpoint => endpoint.Name)];
        }
    }

    public static string RedisConnectionKey => $"ConnectionStrings__{BrokerExtensions.RedisConnectionName}";

    /// <summary>Where clients and workers read their API key (TaskQueue:ApiKey).</summary>
    public static string ApiKeyKey => ApiKeys.ConfigurationKey.Replace(":", "__", StringComparison.Ordinal);

    /// <summary>The broker's security settings (API keys by name, their hashes and scopes).</summary>
    public const string BrokerSecurityPrefix = "TaskQueue__Security__";

    public static string WorkerBrokerAddressKey => Key(WorkerOptions.SectionName, nameof(WorkerOptions.BrokerAddress));

    public static string ClientBrokerAddressKey => Key(TaskQueueClientOptions.SectionName, nameof(TaskQueueClientOptions.BrokerAddress));

    /// <summary>The three TaskQueue services, by compose service name.</summary>
    public static IReadOnlyDictionary<string, ServiceSettings> All { get; } = new Dictionary<string, ServiceSettings>(StringComparer.Ordinal)
    {
        ["broker"] = ForBroker(),
        ["worker"] = ForWorker(),
        ["client"] = ForClient(),
    };

    public static string EndpointUrlKey(string endpoint) => $"Kestrel__Endpoints__{endpoint}__Url";

    /// <summary>"TaskQueue:Broker" + "LeaseDuration" → "TaskQueue__Broker__LeaseDuration".</summary>
    public static string Key(string section, string name) => $"{section}:{name}".Replace(":", "__", StringComparison.Ordinal);

    public bool Reads(string key) =>
        _exact.Contains(key) || _prefixes.Any(prefix => key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && key.Length > prefix.Length);

    private static ServiceSettings ForBroker()
    {
        var settings = new ServiceSettings("broker", "TaskQueue.Broker");
        settings.AddOptions(BrokerOptions.SectionName, typeof(BrokerOptions));
        settings.AddOptions(TaskStoreOptions.SectionName, typeof(TaskStoreOptions));
        settings._exact.Add(RedisConnectionKey);
        settings._prefixes.Add(BrokerSecurityPrefix);
        // AddRedisClient's own settings section.
        settings._prefixes.Add("Aspire__StackExchange__Redis__");
        settings._prefixes.Add("ASPNETCORE_");
        foreach (var endpoint in BrokerEndpointNames)
        {
            settings._exact.Add(EndpointUrlKey(endpoint));
            settings._exact.Add($"Kestrel__Endpoints__{endpoint}__Protocols");
            settings.Required.Add(EndpointUrlKey(endpoint));
        }

        settings.Required.Add(RedisConnectionKey);
        return settings;
    }

    private static ServiceSettings ForWorker()
    {
        var settings = new ServiceSettings("worker", "TaskQueue.WorkerService");
        settings.AddOptions(WorkerOptions.SectionName, typeof(WorkerOptions));
        settings._exact.Add(ApiKeyKey);
        settings.Required.Add(WorkerBrokerAddressKey);
        settings.Required.Add(ApiKeyKey);
        return settings;
    }

    private static ServiceSettings ForClient()
    {
        var settings = new ServiceSettings("client", "TaskQueue.Cli");
        settings.AddOptions(TaskQueueClientOptions.SectionName, typeof(TaskQueueClientOptions));
        // What an AppHost that references TaskQueue gives every project.
        settings._exact.Add($"ConnectionStrings__{TaskQueueClientOptions.ConnectionStringName}");
        settings._exact.Add(ApiKeyKey);
        settings.Required.Add(ClientBrokerAddressKey);
        settings.Required.Add(ApiKeyKey);
        return settings;
    }

    /// <summary>Every public settable property; a list also by index (Worker__Queues__0).</summary>
    private void AddOptions(string section, Type options)
    {
        foreach (var property in options.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true }))
        {
            var key = Key(section, property.Name);
            _exact.Add(key);
            if (property.PropertyType != typeof(string) && typeof(IEnumerable).IsAssignableFrom(property.PropertyType))
            {
                _prefixes.Add(key + "__");
            }
        }
    }
}
