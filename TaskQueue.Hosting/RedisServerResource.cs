namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// A local <c>redis-server</c> process run by Aspire: TaskQueue's Redis on a machine without a container runtime.
/// Its one endpoint is direct (not proxied) and gets a free port; it requires <see cref="PasswordParameter"/> of every
/// client, and the connection string carries it: <c>host:port,password=...</c>.
/// </summary>
/// <param name="name">The resource name, also the connection string name.</param>
/// <param name="command">The path of the redis-server binary.</param>
/// <param name="workingDirectory">Its data directory (AOF files), also its working directory.</param>
/// <param name="password">The password it requires (a secret parameter, generated unless configured).</param>
public sealed class RedisServerResource(string name, string command, string workingDirectory, ParameterResource password)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    /// <summary>
    /// The file beside the AOF, written before each start with mode 0600 (owner only), from which redis-server reads its
    /// password: <c>requirepass</c> in a file keeps the secret off the process's command line, which anyone on the
    /// machine can read.
    /// </summary>
    public const string PasswordFileName = "taskqueue-redis-auth.conf";

    /// <summary>The name of the TCP endpoint Redis listens on.</summary>
    public const string PrimaryEndpointName = "tcp";

    private EndpointReference? _primaryEndpoint;

    /// <summary>The TCP endpoint Redis listens on.</summary>
    public EndpointReference PrimaryEndpoint => _primaryEndpoint ??= new EndpointReference(this, PrimaryEndpointName);

    /// <summary>The password redis-server requires: a secret parameter.</summary>
    public ParameterResource PasswordParameter { get; } = password;

    /// <summary>host:port of the endpoint and the password, as StackExchange.Redis reads them.</summary>
    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.HostAndPort)},password={PasswordParameter}");

    IEnumerable<KeyValuePair<string, ReferenceExpression>> IResourceWithConnectionString.GetConnectionProperties() =>
    [
        new("Host", ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.Host)}")),
        new("Port", ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.Port)}")),
        new("Password", ReferenceExpression.Create($"{PasswordParameter}")),
    ];
}
