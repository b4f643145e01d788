using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TaskQueue.Broker.Security;
using TaskQueue.Broker.Security.Tls;
using TaskQueue.Client;
using TaskQueue.Client.Internal;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Security.Tls;

/// <summary>
/// mTLS as the broker sets it up (<see cref="TlsExtensions.AddTaskQueueTls"/> and the "Certificate" scheme), on a
/// real Kestrel over HTTPS in this process, with an endpoint that answers who the caller is: a pinned client
/// certificate is <c>cert:&lt;name&gt;</c> with its scopes; an unknown, expired or missing one passes the handshake
/// and is then refused with 401 (UNAUTHENTICATED for gRPC), never accepted.
/// </summary>
public sealed class ClientCertificateAuthenticationTests : IAsyncLifetime
{
    private readonly TestCertificates _authority = TestCertificates.CreateAuthority();
    private readonly int _port = RedisServer.FreePort();
    private IssuedCertificate _pinned = null!;
    private IssuedCertificate _expired = null!;
    private WebApplication _app = null!;

    public async Task InitializeAsync()
    {
        var server = _authority.IssueServer();
        _pinned = _authority.IssueClient("ops");
        _expired = _authority.IssueClient("old", DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddDays(-1));
        // No content root with an appsettings.json: only these settings.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = _authority.Directory, EnvironmentName = "Production" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Kestrel:Endpoints:grpc:Url"] = $"https://127.0.0.1:{_port}",
            ["Kestrel:Certificates:Default:Path"] = server.CertificatePath,
            ["Kestrel:Certificates:Default:KeyPath"] = server.KeyPath,
            ["TaskQueue:Security:RequireTls"] = "true",
            ["TaskQueue:Security:ClientCertificates:ops:Thumbprint"] = _pinned.Sha256,
            ["TaskQueue:Security:ClientCertificates:ops:Scopes:0"] = "admin:billing-*",
            ["TaskQueue:Security:ClientCertificates:ops:Scopes:1"] = "read:* consume:jobs",
            ["TaskQueue:Security:ClientCertificates:old:Thumbprint"] = _expired.Sha256,
            ["TaskQueue:Security:ClientCertificates:old:Scopes:0"] = "read:*",
        });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.AddTaskQueueTls();
        builder.Services.AddAuthentication(ClientCertificateAuthenticationHandler.SchemeName).AddTaskQueueClientCertificates();
        builder.Services.AddAuthorization();
        _app = builder.Build();
        _app.UseAuthentication();
        _app.UseAuthorization();
        _app.MapGet("/whoami", (HttpContext context) =>
                $"{context.User.Identity?.Name} {string.Join(',', context.User.FindAll(CallerIdentity.ScopeClaim).Select(claim => claim.Value))}")
            .RequireAuthorization();
        await _app.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        _authority.Dispose();
    }

    [Fact]
    public async Task A_pinned_client_certificate_is_its_named_identity_with_its_scopes()
    {
        var (status, body) = await WhoAmIAsync(new TaskQueueClientTlsOptions
        {
            CaCertificatePath = _authority.AuthorityPath,
            ClientCertificatePath = _pinned.CertificatePath,
            ClientKeyPath = _pinned.KeyPath,
        });

        Assert.Equal((HttpStatusCode.OK, "cert:ops admin:billing-*,read:*,consume:jobs"), (status, body));
    }

    [Fact]
    public async Task A_client_certificate_the_broker_does_not_pin_passes_the_handshake_and_is_unauthenticated()
    {
        using var stranger = TestCertificates.CreateAuthority("stranger");
        var unknown = stranger.IssueClient("intruder");

        var (status, _) = await WhoAmIAsync(new TaskQueueClientTlsOptions { CaCertificate = _authority.Authority, ClientCertificate = unknown.Certificate });

        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task An_expired_pinned_client_certificate_is_unauthenticated()
    {
        var (status, _) = await WhoAmIAsync(new TaskQueueClientTlsOptions { CaCertificate = _authority.Authority, ClientCertificate = _expired.Certificate });

        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task A_caller_without_a_client_certificate_still_connects_and_is_unauthenticated()
    {
        var (status, _) = await WhoAmIAsync(new TaskQueueClientTlsOptions { CaCertificate = _authority.Authority });

        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    /// <summary>GET /whoami through the client library's own handler (its TLS settings as given).</summary>
    private async Task<(HttpStatusCode Status, string Body)> WhoAmIAsync(TaskQueueClientTlsOptions tls)
    {
        using var http = new HttpClient(BrokerChannel.CreateHandler(tls)) { Timeout = TimeSpan.FromSeconds(30) };
        using var response = await http.GetAsync(new Uri($"https://127.0.0.1:{_port}/whoami"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
