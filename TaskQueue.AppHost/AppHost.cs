using TaskQueue.AppHost;
using TaskQueue.AppHost.Redis;

// Redis → broker → workers → client. Knobs: TaskQueueSettings (e.g. `dotnet run --project TaskQueue.AppHost -- --Workers=8`).
var builder = DistributedApplication.CreateBuilder(args);
var settings = TaskQueueSettings.From(builder.Configuration, builder.AppHostDirectory);

// Redis: a container, a local redis-server, or an existing server (Redis:Mode, ConnectionStrings:redis).
var redis = builder.AddTaskQueueRedis(settings.Redis);

// Brokers: stateless, all state in Redis. Kestrel endpoints "http" (HTTP/1.1: /health, /metrics) and "grpc" (HTTP/2).
var broker = builder.AddProject<Projects.TaskQueue_Broker>("broker")
    .WithReplicas(settings.Brokers)
    .WithReference(redis)
    .WaitFor(redis)
    .WithHttpHealthCheck("/health", endpointName: "http")
    .WithConfigurationSection(builder.Configuration, "TaskQueue");

// Workers: each replica connects to the broker's "grpc" endpoint (http://_grpc.broker) and reconnects by itself.
builder.AddProject<Projects.TaskQueue_WorkerService>("worker")
    .WithReplicas(settings.Workers)
    .WithReference(broker)
    .WaitFor(broker)
    .WithConfigurationSection(builder.Configuration, "Worker");

// Client: submits a demo load once the broker is healthy, reports the outcome and exits.
if (settings.Demo)
{
    builder.AddProject<Projects.TaskQueue_Cli>("client")
        .WithArgs("demo")
        .WithReference(broker)
        .WaitFor(broker)
        .WithEnvironment("TaskQueue__BrokerAddress", "http://_grpc.broker");
}

builder.Build().Run();
