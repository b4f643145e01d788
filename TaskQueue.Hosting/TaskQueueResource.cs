namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// A TaskQueue: one or more brokers over one Redis. Its connection string is the brokers' gRPC address(es),
/// comma-separated (e.g. <c>http://localhost:5001</c>), which is what <c>AddTaskQueueClient()</c> and
/// <c>AddTaskQueueWorker()</c> read from <c>ConnectionStrings:{name}</c> in a project that references it.
/// It counts as running once every broker answers <c>/health</c>.
/// </summary>
/// <remarks>
/// Brokers demand credentials: every API key the resource knows of — its operator key (<see cref="AdminKeyParameter"/>)
/// and one per service referenced with scopes (<c>.WithReference(taskQueue, scopes: ["consume:*"])</c>) — reaches
/// every broker as its SHA-256 and scopes only (<c>TaskQueue__Security__ApiKeys__{name}__Sha256</c>,
/// <c>..__Scopes__N</c>); the key itself goes only to its service (<c>TaskQueue__ApiKey</c>).
/// </remarks>
/// <param name="name">The resource name, also the connection string name.</param>
public sealed class TaskQueueResource(string name) : Resource(name), IResourceWithConnectionString, IResourceWithWaitSupport
{
    /// <summary>The name of the dashboard command that replays every queue's dead letters.</summary>
    public const string ReplayDeadLettersCommandName = "taskqueue-replay-dead-letters";

    /// <summary>The name of the dashboard command that deletes every queue's dead letters (after asking).</summary>
    public const string PurgeDeadLettersCommandName = "taskqueue-purge-dead-letters";

    /// <summary>The scopes of the operator key: everything the CLI does (submit, read, admin on every queue); consume stays the workers'.</summary>
    public static readonly IReadOnlyList<string> AdminScopes = ["submit:*", "read:*", "admin:*"];

    private readonly List<TaskQueueBrokerResource> _created = [];
    private readonly Dictionary<string, ServiceKey> _keys = new(StringComparer.Ordinal);

    /// <summary>The brokers, in order; as many as <c>WithBrokers</c> asked for (one by default).</summary>
    public IReadOnlyList<TaskQueueBrokerResource> Brokers => _created.GetRange(0, BrokerCount);

    /// <summary>
    /// The operator's API key (the secret parameter <c>{name}-admin-key</c>, scopes <see cref="AdminScopes"/>): the
    /// dashboard's dead-letter commands use it, and so can an operator's CLI (<c>--api-key</c> or
    /// <c>TaskQueue__ApiKey</c>). Generated and kept in the AppHost's user secrets (<c>Parameters:{name}-admin-key</c>)
    /// unless configured; the dashboard's parameter view shows it.
    /// </summary>
    public ParameterResource AdminKeyParameter { get; internal set; } = null!;

    /// <summary>The Redis the brokers keep every task in.</summary>
    public IResourceWithConnectionString Redis { get; internal set; } = null!;

    /// <summary>The brokers' gRPC addresses, comma-separated, in broker order.</summary>
    public ReferenceExpression ConnectionStringExpression
    {
        get
        {
            var expression = new ReferenceExpressionBuilder();
            for (var i = 0; i < BrokerCount; i++)
            {
                if (i > 0)
                {
                    expression.AppendLiteral(",");
                }

                expression.Append($"{_created[i].GrpcEndpoint.Property(EndpointProperty.Url)}");
            }

            return expression.Build();
        }
    }

    /// <summary>The Redis this TaskQueue created itself (null once <c>WithRedis</c> gave it another).</summary>
    internal IResource? OwnRedis { get; set; }

    internal int BrokerCount { get; set; }

    /// <summary>Every API key the brokers accept, by key name (the operator's first, then one per service referenced with scopes).</summary>
    internal IEnumerable<ServiceKey> Keys => _keys.Values;

    /// <summary>Adds (or replaces the scopes of) the API key named <paramref name="name"/>.</summary>
    internal void SetKey(string name, ParameterResource key, IReadOnlyList<string> scopes) => _keys[name] = new ServiceKey(name, key, scopes);

    /// <summary>Every broker ever created, including ones a later <c>WithBrokers</c> took out of the model (kept for reuse).</summary>
    internal List<TaskQueueBrokerResource> CreatedBrokers => _created;

    IEnumerable<KeyValuePair<string, ReferenceExpression>> IResourceWithConnectionString.GetConnectionProperties() =>
    [
        new("Brokers", ConnectionStringExpression),
    ];
}

/// <summary>One API key the brokers accept: its name in their configuration, the secret parameter holding it, its scopes.</summary>
internal sealed record ServiceKey(string Name, ParameterResource Key, IReadOnlyList<string> Scopes);
