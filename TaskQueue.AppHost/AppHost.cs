using TaskQueue.AppHost;

// Redis → brokers → workers → client. Knobs: TaskQueueSettings (e.g. `dotnet run --project TaskQueue.AppHost -- --Workers=8`).
var builder = DistributedApplication.CreateBuilder(args);
var settings = TaskQueueSettings.From(builder.Configuration, builder.AppHostDirectory);

// TaskQueue (TaskQueue.Hosting): Redis (a container, a local redis-server, or an existing server: Redis:Mode,
// ConnectionStrings:redis) and stateless brokers over it. Its connection string is the brokers' gRPC address(es).
// The first broker listens on localhost:5000 (HTTP: /metrics, /workers, /dlq) and :5001 (gRPC, the CLI's default).
var taskQueue = builder.AddTaskQueue("taskqueue", settings.Redis.Configure)
    .WithBrokers(settings.Brokers)
    .WithHostPorts(httpPort: 5000, grpcPort: 5001);

// Workers: each replica connects to a broker's "grpc" endpoint and reconnects by itself.
builder.AddProject<Projects.TaskQueue_WorkerService>("worker")
    .WithReplicas(settings.Workers)
    .WithReference(taskQueue)
    .WaitFor(taskQueue)
    .WithConfigurationSection(builder.Configuration, "Worker");

// Client: submits a demo load once the brokers are healthy, reports the outcome and exits.
if (settings.Demo)
{
    builder.AddProject<Projects.TaskQueue_Cli>("client")
        .WithArgs("demo")
        .WithReference(taskQueue)
        .WaitFor(taskQueue);
}

builder.Build().Run();
