var builder = DistributedApplication.CreateBuilder(args);

// TaskQueue: Redis and a broker (TaskQueue.Hosting).
var taskQueue = builder.AddTaskQueue("taskqueue");

// The resizer runs the "resize-image" tasks; the API queues them and reads their results.
// Each gets an API key of its own with just those scopes.
builder.AddProject<Projects.ImageShop_Worker>("resizer")
    .WithReference(taskQueue, scopes: ["consume:*"])
    .WaitFor(taskQueue);

builder.AddProject<Projects.ImageShop_Api>("api")
    .WithReference(taskQueue, scopes: ["submit:*", "read:*"])
    .WaitFor(taskQueue);

builder.Build().Run();
