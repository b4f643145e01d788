namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// A local Redis Cluster run by Aspire: its nodes are <see cref="RedisServerResource"/>s started with
/// <c>--cluster-enabled yes</c> (the dashboard shows each as a child of this resource), all requiring
/// <see cref="PasswordParameter"/>. The resource has no process of its own: it joins the nodes into one cluster when
/// they are new (the slots split evenly over the primaries, each replica told its primary), meets them again at their
/// new ports when they already form one (a restart with kept data), and counts as healthy once every primary says
/// <c>cluster_state:ok</c>. Its connection string lists every primary and the password:
/// <c>127.0.0.1:port,127.0.0.1:port,...,password=...</c>.
/// </summary>
/// <param name="name">The resource name, also the connection string name.</param>
/// <param name="password">The password every node requires (<c>requirepass</c>) and replicas give their primary (<c>masterauth</c>).</param>
public sealed class RedisClusterResource(string name, ParameterResource password)
    : Resource(name), IResourceWithConnectionString, IResourceWithWaitSupport
{
    /// <summary>The number of hash slots of every Redis Cluster.</summary>
    public const int SlotCount = 16384;

    /// <summary>
    /// The name of each node's second endpoint, the cluster bus (<c>--cluster-port</c>): a port of its own, allocated
    /// like the client port, rather than Redis's default of the client port plus 10,000, which may be taken or beyond 65,535.
    /// </summary>
    public const string BusEndpointName = "bus";

    private readonly List<RedisServerResource> _nodes = [];

    /// <summary>The password every node requires: a secret parameter.</summary>
    public ParameterResource PasswordParameter { get; } = password;

    /// <summary>Every node: the primaries first (the first serves the lowest slots), then the replicas.</summary>
    public IReadOnlyList<RedisServerResource> Nodes => _nodes;

    /// <summary>The nodes started as primaries, in slot order.</summary>
    public IReadOnlyList<RedisServerResource> Primaries => _nodes.GetRange(0, PrimaryCount);

    /// <summary>How many replicas each primary was given at the cluster's creation.</summary>
    public int ReplicasPerPrimary { get; internal set; }

    /// <summary>
    /// Every primary's <c>127.0.0.1:port</c>, then the password, as StackExchange.Redis reads them (the client discovers
    /// the replicas, and follows the slots wherever they move).
    /// </summary>
    public ReferenceExpression ConnectionStringExpression
    {
        get
        {
            var expression = new ReferenceExpressionBuilder();
            for (var i = 0; i < PrimaryCount; i++)
            {
                if (i > 0)
                {
                    expression.AppendLiteral(",");
                }

                // The address the nodes announce to each other and to clients (CLUSTER NODES): one connection per node.
                expression.AppendLiteral(TaskQueue.Hosting.RedisClusterFormation.Loopback + ":");
                expression.Append($"{_nodes[i].PrimaryEndpoint.Property(EndpointProperty.TargetPort)}");
            }

            expression.Append($",password={PasswordParameter}");
            return expression.Build();
        }
    }

    internal int PrimaryCount { get; set; }

    internal void AddNode(RedisServerResource node) => _nodes.Add(node);

    IEnumerable<KeyValuePair<string, ReferenceExpression>> IResourceWithConnectionString.GetConnectionProperties() =>
    [
        new("Password", ReferenceExpression.Create($"{PasswordParameter}")),
    ];
}
