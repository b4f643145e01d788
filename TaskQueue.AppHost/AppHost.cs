using TaskQueue.AppHost;

// Redis → brokers → workers → client. Knobs: TaskQueueSettings (e.g. `dotnet run --project TaskQueue.AppHost -- --Workers=8`).
var builder = DistributedApplication.CreateBuilder(args);
var settings = TaskQueueSettings.From(builder.Configuration, builder.AppHostDirectory);

// TaskQueue (TaskQueue.Hosting): Redis (a container, a local redis-server, a local Redis Cluster of Redis:Primaries
// primaries with Redis:Replicas replicas each, or an existing server: Redis:Mode, ConnectionStrings:redis) and
// stateless brokers over it. Its connection string is the brokers' gRPC address(es).
// The first broker listens on localhost:5000 (HTTP: /metrics, /workers, /dlq) and :5001 (gRPC, the CLI's default).
// Security is on and needs no setup: every secret is a generated Aspire secret parameter, kept in this project's user
// secrets (`dotnet user-secrets list --project TaskQueue.AppHost`) and shown, masked, in the dashboard's parameter view.
// Redis's password (taskqueue-redis-password) reaches the brokers only; each service below gets an API key of its own
// with just the scopes it needs; the brokers get only the keys' hashes. The operator key (taskqueue-admin-key: submit,
// read and admin on every queue) is the dashboard commands' and yours: copy Parameters:taskqueue-admin-key from the
// user secrets (or reveal it in the dashboard) and give it to the CLI, `taskqueue stats --api-key <key>` or TaskQueue__ApiKey.
var taskQueue = builder.AddTaskQueue("taskqueue", settings.Redis.Configure)
    .WithBrokers(settings.Brokers)
    .WithHostPorts(httpPort: 5000, grpcPort: 5001);

// Workers: each replica connects to a broker's "grpc" endpoint and reconnects by itself. They may only consume.
builder.AddProject<Projects.TaskQueue_WorkerService>("worker")
    .WithReplicas(settings.Workers)
    .WithReference(taskQueue, scopes: ["consume:*"])
    .WaitFor(taskQueue)
    .WithConfigurationSection(builder.Configuration, "Worker");

// Client: submits a demo load once the brokers are healthy, reports the outcome and exits. It may submit and read.
if (settings.Demo)
{
    builder.AddProject<Projects.TaskQueue_Cli>("client")
        .WithArgs("demo")
        .WithReference(taskQueue, scopes: ["submit:*", "read:*"])
        .WaitFor(taskQueue);
}

// The operator dashboard (http://localhost:5080, linked from the Aspire dashboard): queues, tasks, dead letters, workers,
// audit. It has no API key of its own: operators sign in with theirs (the taskqueue-admin-key above, or a read-only key)
// and every call it makes to the brokers carries the operator's key, so the brokers authorise and audit each one.
// Its Task page links each task's trace in the Aspire dashboard, whose address is the AppHost's own ASPNETCORE_URLS.
var operatorDashboard = builder.AddProject<Projects.TaskQueue_Dashboard>("operator-dashboard")
    .WithReference(taskQueue)
    .WithEnvironment("Dashboard__BrokerHttpAddress", taskQueue.Resource.Brokers[0].HttpEndpoint)
    .WithExternalHttpEndpoints()
    .WaitFor(taskQueue);
if (builder.Configuration["ASPNETCORE_URLS"]?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is [var aspireUrl, ..])
{
    operatorDashboard.WithEnvironment("Dashboard__AspireUrl", aspireUrl);
}

// Trace sampling (TraceSampling:Ratio, default 1 = every span): the dashboard stores and renders every span it gets, which
// costs it about 60 % of a core at 2,000 tasks/s; `-- --TraceSampling:Ratio=0.01` keeps one task's trace in a hundred, whole.
builder.WithTraceSampling(TraceSampling.ReadRatio(builder.Configuration));

builder.Build().Run();
