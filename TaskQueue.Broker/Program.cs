using TaskQueue.Broker.Extensions;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddTaskQueueBroker();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapTaskQueueBroker();
await app.RunAsync();
