namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// A TaskQueue: one or more brokers over one Redis. Its connection string is the brokers' gRPC address(es),
/// comma-separated (e.g. <c>http://localhost:5001</c>), which is what <c>AddTaskQueueClient()</c> and
/// <c>AddTaskQueueWorker()</c> read from <c>ConnectionStrings:{name}</c> in a project that references it.
/// It counts as running once every broker answers <c>/health</c>.
/// </summary>
/// <param name="name">The resource name, also the connection string name.</param>
public sealed class TaskQueueResource(string name) : Resource(name), IResourceWithConnectionString, IResourceWithWaitSupport
{
    /// <summary>The name of the dashboard command that replays every queue's dead letters.</summary>
    public const string ReplayDeadLettersCommandName = "taskqueue-replay-dead-letters";

    /// <summary>The name of the dashboard command that deletes every queue's dead letters (after asking).</summary>
    public const string PurgeDeadLettersCommandName = "taskqueue-purge-dead-letters";

    private readonly List<TaskQueueBrokerResource> _created = [];

    /// <summary>The brokers, in order; as many as <c>WithBrokers</c> asked for (one by default).</summary>
    public IReadOnlyList<TaskQueueBrokerResource> Brokers => _created.GetRange(0, BrokerCount);

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

    /// <summary>Every broker ever created, including ones a later <c>WithBrokers</c> took out of the model (kept for reuse).</summary>
    internal List<TaskQueueBrokerResource> CreatedBrokers => _created;

    IEnumerable<KeyValuePair<string, ReferenceExpression>> IResourceWithConnectionString.GetConnectionProperties() =>
    [
        new("Brokers", ConnectionStringExpression),
    ];
}
