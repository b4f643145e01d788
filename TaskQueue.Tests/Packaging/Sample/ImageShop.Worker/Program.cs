using ImageShop.Worker;

var builder = Host.CreateApplicationBuilder(args);

// Finds the broker from ConnectionStrings:taskqueue and its API key from TaskQueue:ApiKey, which the AppHost's
// WithReference(taskQueue, scopes: [...]) sets.
builder.AddTaskQueueWorker();
builder.Services.AddTaskHandler<ResizeImageHandler>();

builder.Build().Run();
