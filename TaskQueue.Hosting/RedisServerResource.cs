namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// A local <c>redis-server</c> process run by Aspire: TaskQueue's Redis on a machine without a container runtime.
/// Its one endpoint is direct (not proxied) and gets a free port; the connection string is host:port.
/// </summary>
/// <param name="name">The resource name, also the connection string name.</param>
/// <param name="command">The path of the redis-server binary.</param>
/// <param name="workingDirectory">Its data directory (AOF files), also its working directory.</param>
public sealed class RedisServerResource(string name, string command, string workingDirectory)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    /// <summary>The name of the TCP endpoint Redis listens on.</summary>
    public const string PrimaryEndpointName = "tcp";

    private EndpointReference? _primaryEndpoint;

    /// <summary>The TCP endpoint Redis listens on.</summary>
    public EndpointReference PrimaryEndpoint => _primaryEndpoint ??= new EndpointReference(this, PrimaryEndpointName);

    /// <summary>host:port of the endpoint, as StackExchange.Redis reads it.</summary>
    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.HostAndPort)}");

    IEnumerable<KeyValuePair<string, ReferenceExpression>> IResourceWithConnectionString.GetConnectionProperties() =>
    [
        new("Host", ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.Host)}")),
        new("Port", ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.Port)}")),
    ];
}
