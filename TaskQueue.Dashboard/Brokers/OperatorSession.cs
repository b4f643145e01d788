using Microsoft.AspNetCore.Http;
using TaskQueue.Client;
using TaskQueue.Dashboard.Signing;

namespace TaskQueue.Dashboard.Brokers;

/// <summary>The signed-in operator of one request: who, with which scopes, and a client that calls the brokers as them.</summary>
public sealed class OperatorSession(IHttpContextAccessor accessor, BrokerChannel channel, WorkersReader workers)
{
    private TaskQueueClient? _client;

    private System.Security.Claims.ClaimsPrincipal User =>
        accessor.HttpContext?.User ?? throw new InvalidOperationException("No request.");

    public string Identity => OperatorClaims.Identity(User);

    public OperatorScopes Scopes => OperatorClaims.ScopesOf(User);

    public TaskQueueClient Client => _client ??= channel.ClientFor(Credential);

    public Task<IReadOnlyList<WorkerRow>> ListWorkersAsync(CancellationToken cancellationToken) => workers.ListAsync(Credential, cancellationToken);

    private string Credential => OperatorClaims.CredentialOf(User) ?? throw new InvalidOperationException("The operator is not signed in.");
}
