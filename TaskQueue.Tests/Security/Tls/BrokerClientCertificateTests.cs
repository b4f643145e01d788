using Grpc.Core;
using TaskQueue.Client;
using TaskQueue.Tests.Distributed;

namespace TaskQueue.Tests.Security.Tls;

/// <summary>
/// mTLS against a real broker process (after sec-auth's authorisation is merged): a pinned client certificate
/// without any bearer credential is its identity with its scopes (read allowed, admin refused), and an unknown one
/// is UNAUTHENTICATED rather than a broken connection.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class BrokerClientCertificateTests
{
    [Fact]
    public async Task A_pinned_client_certificate_gets_its_scopes_and_an_unknown_one_is_unauthenticated()
    {
        using var authority = TestCertificates.CreateAuthority();
        using var stranger = TestCertificates.CreateAuthority("stranger");
        var reader = authority.IssueClient("reader");
        var unknown = stranger.IssueClient("intruder");
        await using var broker = await TlsBroker.StartAsync(authority, authority.IssueServer(), new Dictionary<string, string>
        {
            ["TaskQueue__Security__ClientCertificates__reader__Thumbprint"] = reader.Sha256,
            ["TaskQueue__Security__ClientCertificates__reader__Scopes__0"] = "read:*",
        });
        var queue = "mtls-" + Guid.NewGuid().ToString("N")[..10];
        using var adminChannel = TaskQueueClient.CreateChannel(new TaskQueueClientOptions
        {
            BrokerAddress = broker.GrpcAddress,
            ApiKey = broker.ApiKey,
            Tls = { CaCertificate = authority.Authority },
        });
        using var readerChannel = TaskQueueClient.CreateChannel(new TaskQueueClientOptions
        {
            BrokerAddress = broker.GrpcAddress,
            Tls = { CaCertificate = authority.Authority, ClientCertificatePath = reader.CertificatePath, ClientKeyPath = reader.KeyPath },
        });
        using var unknownChannel = TaskQueueClient.CreateChannel(new TaskQueueClientOptions
        {
            BrokerAddress = broker.GrpcAddress,
            Tls = { CaCertificate = authority.Authority, ClientCertificate = unknown.Certificate },
        });
        var task = await new TaskQueueClient(adminChannel).SubmitAsync(TaskRequest.FromText("echo", "x", queue));
        var asReader = new TaskQueueClient(readerChannel);

        var stats = await asReader.GetQueueStatsAsync(queue);
        var cancel = await Assert.ThrowsAsync<RpcException>(() => asReader.CancelAsync(task.TaskId));
        var refused = await Assert.ThrowsAsync<RpcException>(() => new TaskQueueClient(unknownChannel).GetQueueStatsAsync(queue));

        Assert.Equal(1, stats.Submitted);
        Assert.Equal(StatusCode.PermissionDenied, cancel.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
    }
}
