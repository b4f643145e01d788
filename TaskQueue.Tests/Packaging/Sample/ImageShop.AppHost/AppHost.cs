var builder = DistributedApplication.CreateBuilder(args);

// TaskQueue: Redis and a broker (TaskQueue.Hosting).
var taskQueue = builder.AddTaskQueue("taskqueue");

// The resizer runs the "resize-image" tasks; the API queues them.
builder.AddProject<Projects.ImageShop_Worker>("resizer")
    .WithReference(taskQueue)
    .WaitFor(taskQueue);

builder.AddProject<Projects.ImageShop_Api>("api")
    .WithReference(taskQueue)
    .WaitFor(taskQueue);

builder.Build().Run();
