using TaskQueue.Broker.Benchmarks;
using TaskQueue.Broker.Extensions;

// `bench-store`: drive the Redis store alone and print its throughput (see README, "Store benchmark").
if (args is ["bench-store", .. var benchmarkArgs])
{
    return await StoreBenchmark.RunAsync(benchmarkArgs);
}

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddTaskQueueBroker();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapTaskQueueBroker();
await app.RunAsync();
return 0;
