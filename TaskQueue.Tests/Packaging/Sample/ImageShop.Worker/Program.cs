using ImageShop.Worker;

var builder = Host.CreateApplicationBuilder(args);

// Finds the broker from ConnectionStrings:taskqueue, which the AppHost's WithReference(taskQueue) sets.
builder.AddTaskQueueWorker();
builder.Services.AddTaskHandler<ResizeImageHandler>();

builder.Build().Run();
