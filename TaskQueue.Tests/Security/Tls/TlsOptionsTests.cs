using System.ComponentModel.DataAnnotations;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using TaskQueue.Broker.Security.Tls;
using TaskQueue.Client;
using TaskQueue.Client.Internal;
using TaskQueue.Worker;

namespace TaskQueue.Tests.Security.Tls;

/// <summary>How the TLS settings of the broker, the client and the worker are read and checked.</summary>
public sealed class TlsOptionsTests : IDisposable
{
    private readonly TestCertificates _authority = TestCertificates.CreateAuthority();

    public void Dispose() => _authority.Dispose();

    [Fact]
    public void RequireTls_refuses_a_plaintext_endpoint_and_names_it()
    {
        var options = Broker(new() { ["TaskQueue:Security:RequireTls"] = "true" });
        var endpoints = Endpoints(new()
        {
            ["Kestrel:Endpoints:http:Url"] = "https://127.0.0.1:5000",
            ["Kestrel:Endpoints:grpc:Url"] = "http://127.0.0.1:5001",
        });

        var error = Assert.Throws<ValidationException>(() => options.Validate(endpoints));

        Assert.StartsWith("TaskQueue:Security:RequireTls is true, but Kestrel:Endpoints:grpc:Url is plaintext (http://127.0.0.1:5001).", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RequireTls_accepts_https_endpoints_and_plaintext_is_allowed_without_it()
    {
        var https = Endpoints(new() { ["Kestrel:Endpoints:http:Url"] = "https://127.0.0.1:5000", ["Kestrel:Endpoints:grpc:Url"] = "HTTPS://localhost:5001" });
        var plaintext = Endpoints(new() { ["Kestrel:Endpoints:grpc:Url"] = "http://127.0.0.1:5001" });

        Broker(new() { ["TaskQueue:Security:RequireTls"] = "true" }).Validate(https);
        Broker([]).Validate(plaintext);
    }

    [Fact]
    public void Without_named_endpoints_the_hosting_urls_count_and_without_those_Kestrels_plaintext_default()
    {
        Assert.Equal(
            [("urls", "https://+:443"), ("urls", "http://+:80"), ("http_ports", "http://*:8080")],
            Endpoints(new() { ["urls"] = "https://+:443;http://+:80", ["http_ports"] = "8080" }));
        Assert.Equal([("Kestrel's default", "http://localhost:5000")], Endpoints([]));
        Assert.Throws<ValidationException>(() => Broker(new() { ["TaskQueue:Security:RequireTls"] = "true" }).Validate(Endpoints([])));
    }

    [Fact]
    public void A_pinned_thumbprint_may_be_written_with_colons_in_either_case_and_scopes_may_share_an_entry()
    {
        var client = _authority.IssueClient("ops");
        var colons = string.Join(':', client.Sha256.Chunk(2).Select(pair => new string(pair))).ToUpperInvariant();
        var options = Broker(new()
        {
            ["TaskQueue:Security:ClientCertificates:ops:Thumbprint"] = colons,
            ["TaskQueue:Security:ClientCertificates:ops:Scopes:0"] = "read:*  consume:jobs",
            ["TaskQueue:Security:ClientCertificates:ops:Scopes:1"] = "admin:billing-*",
        });

        options.Validate([]);
        var found = options.Find(client.Sha256.ToLowerInvariant());

        Assert.Equal("ops", found?.Name);
        Assert.Equal(["read:*", "consume:jobs", "admin:billing-*"], found?.Pin.GrantedScopes());
        Assert.Null(options.Find(_authority.IssueClient("other").Sha256));
    }

    [Theory]
    [InlineData("ops", "abc", "read:*", "Thumbprint must be the certificate's SHA-256 fingerprint")]
    [InlineData("ops", null, "", "Scopes must grant at least one scope")]
    [InlineData("ops", null, "delete:*", "Scopes has 'delete:*'")]
    [InlineData("ops", null, "read:", "Scopes has 'read:'")]
    [InlineData("ops.team", null, "read:*", "a client certificate's name is letters, digits, '-' and '_'")]
    public void A_pin_that_cannot_work_fails_validation_naming_the_setting(string name, string? thumbprint, string scope, string expected)
    {
        var options = Broker(new()
        {
            [$"TaskQueue:Security:ClientCertificates:{name}:Thumbprint"] = thumbprint ?? new string('a', 64),
            [$"TaskQueue:Security:ClientCertificates:{name}:Scopes:0"] = scope,
        });

        var error = Assert.Throws<ValidationException>(() => options.Validate([]));

        Assert.Contains($"TaskQueue:Security:ClientCertificates:{name}", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_names_pinning_one_certificate_fail_validation()
    {
        var options = Broker(new()
        {
            ["TaskQueue:Security:ClientCertificates:a:Thumbprint"] = new string('a', 64),
            ["TaskQueue:Security:ClientCertificates:a:Scopes:0"] = "read:*",
            ["TaskQueue:Security:ClientCertificates:b:Thumbprint"] = new string('A', 64),
            ["TaskQueue:Security:ClientCertificates:b:Scopes:0"] = "read:*",
        });

        Assert.Contains("pins the same certificate as a", Assert.Throws<ValidationException>(() => options.Validate([])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_client_reads_its_TLS_files_from_TaskQueue_Tls_and_code_wins()
    {
        var client = _authority.IssueClient("app");
        var fromConfiguration = Client(new()
        {
            ["TaskQueue:BrokerAddress"] = "https://broker:5001",
            ["TaskQueue:Tls:CaCertificatePath"] = _authority.AuthorityPath,
            ["TaskQueue:Tls:ClientCertificatePath"] = client.CertificatePath,
            ["TaskQueue:Tls:ClientKeyPath"] = client.KeyPath,
        });
        var fromCode = Client(new() { ["TaskQueue:BrokerAddress"] = "https://broker:5001", ["TaskQueue:Tls:CaCertificatePath"] = "/nowhere.pem" },
            options => options.Tls.CaCertificatePath = _authority.AuthorityPath);

        Assert.Equal((_authority.AuthorityPath, client.CertificatePath, client.KeyPath),
            (fromConfiguration.Tls.CaCertificatePath, fromConfiguration.Tls.ClientCertificatePath, fromConfiguration.Tls.ClientKeyPath));
        Assert.Equal(_authority.AuthorityPath, fromCode.Tls.CaCertificatePath);
    }

    [Theory]
    [InlineData("https://broker:5001", "TaskQueue:Tls:CaCertificatePath", "/nowhere/ca.pem", "TaskQueue:Tls:CaCertificatePath '/nowhere/ca.pem' is not a readable PEM or DER certificate file")]
    [InlineData("https://broker:5001", "TaskQueue:Tls:ClientKeyPath", "/nowhere/app.key", "TaskQueue:Tls:ClientKeyPath is set without TaskQueue:Tls:ClientCertificatePath")]
    [InlineData("https://broker:5001", "TaskQueue:Tls:ClientCertificatePath", "/nowhere/app.crt", "TaskQueue:Tls:ClientCertificatePath '/nowhere/app.crt' (key '/nowhere/app.crt') is not a readable PEM certificate")]
    [InlineData("http://broker:5001", "TaskQueue:Tls:CaCertificatePath", null, "TaskQueue:Tls settings apply to https:// brokers only")]
    public void Client_TLS_settings_that_cannot_work_fail_validation_on_start(string broker, string key, string? value, string expected)
    {
        var error = Assert.Throws<OptionsValidationException>(() =>
            Client(new() { ["TaskQueue:BrokerAddress"] = broker, [key] = value ?? _authority.AuthorityPath }));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void With_a_custom_CA_the_brokers_certificate_must_chain_to_it_and_name_the_host()
    {
        using var other = TestCertificates.CreateAuthority("other");
        var server = _authority.IssueServer();
        var impostor = other.IssueServer();
        using var handler = BrokerChannel.CreateHandler(new TaskQueueClientTlsOptions { CaCertificatePath = _authority.AuthorityPath });
        var check = handler.SslOptions.RemoteCertificateValidationCallback!;

        // What the system store says of a private CA's certificate: its chain is not trusted.
        Assert.True(check(this, server.Certificate, null, SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(check(this, impostor.Certificate, null, SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(check(this, server.Certificate, null, SslPolicyErrors.RemoteCertificateChainErrors | SslPolicyErrors.RemoteCertificateNameMismatch));
        Assert.False(check(this, null, null, SslPolicyErrors.RemoteCertificateNotAvailable));
        // A client certificate is for clients: it does not pass as a server's, even from the trusted CA.
        Assert.False(check(this, _authority.IssueClient("app").Certificate, null, SslPolicyErrors.RemoteCertificateChainErrors));
    }

    [Fact]
    public void Without_TLS_settings_the_handler_leaves_the_check_to_the_system_store_and_offers_no_certificate()
    {
        using var handler = BrokerChannel.CreateHandler(new TaskQueueClientTlsOptions());

        Assert.Null(handler.SslOptions.RemoteCertificateValidationCallback);
        Assert.Null(handler.SslOptions.ClientCertificates);
    }

    [Fact]
    public void A_DER_CA_file_works_as_well_as_PEM()
    {
        var der = Path.Combine(_authority.Directory, "ca.der");
        File.WriteAllBytes(der, _authority.Authority.Export(X509ContentType.Cert));
        using var handler = BrokerChannel.CreateHandler(new TaskQueueClientTlsOptions { CaCertificatePath = der });

        Assert.True(handler.SslOptions.RemoteCertificateValidationCallback!(this, _authority.IssueServer().Certificate, null, SslPolicyErrors.RemoteCertificateChainErrors));
    }

    [Fact]
    public void The_worker_reads_Worker_Tls_and_falls_back_to_TaskQueue_Tls_setting_by_setting()
    {
        var client = _authority.IssueClient("worker");
        using var services = Worker(new()
        {
            ["Worker:BrokerAddress"] = "https://broker:5001",
            ["TaskQueue:Tls:CaCertificatePath"] = "/nowhere/shared-ca.pem",
            ["Worker:Tls:CaCertificatePath"] = _authority.AuthorityPath,
            ["TaskQueue:Tls:ClientCertificatePath"] = client.CertificatePath,
            ["TaskQueue:Tls:ClientKeyPath"] = client.KeyPath,
        });

        var tls = services.GetRequiredService<IOptions<WorkerOptions>>().Value.Tls;

        Assert.Equal((_authority.AuthorityPath, client.CertificatePath, client.KeyPath), (tls.CaCertificatePath, tls.ClientCertificatePath, tls.ClientKeyPath));
    }

    [Fact]
    public void Worker_TLS_settings_for_a_plaintext_broker_fail_validation_on_start()
    {
        using var services = Worker(new() { ["Worker:BrokerAddress"] = "http://broker:5001", ["Worker:Tls:CaCertificatePath"] = _authority.AuthorityPath });

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<WorkerOptions>>().Value);

        Assert.Contains("Worker:Tls settings apply to https:// brokers only", error.Message, StringComparison.Ordinal);
    }

    private static BrokerTlsOptions Broker(Dictionary<string, string?> settings) =>
        Configuration(settings).GetSection(BrokerTlsOptions.SectionName).Get<BrokerTlsOptions>() ?? new BrokerTlsOptions();

    private static IReadOnlyList<(string Name, string Url)> Endpoints(Dictionary<string, string?> settings) => BrokerEndpoints.Read(Configuration(settings));

    private static TaskQueueClientOptions Client(Dictionary<string, string?> settings, Action<TaskQueueClientOptions>? configure = null)
    {
        using var provider = new ServiceCollection()
            .AddSingleton(Configuration(settings))
            .AddTaskQueueClient(configure)
            .BuildServiceProvider();
        return provider.GetRequiredService<IOptions<TaskQueueClientOptions>>().Value;
    }

    private static ServiceProvider Worker(Dictionary<string, string?> settings) =>
        new ServiceCollection().AddSingleton(Configuration(settings)).AddLogging().AddTaskQueueWorker().BuildServiceProvider();

    private static IConfiguration Configuration(Dictionary<string, string?> settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
}
