var builder = Host.CreateApplicationBuilder(args);
builder.AddServiceDefaults();
builder.AddTaskQueueWorker();
builder.AddBuiltInTaskHandlers();
builder.AddTaskTypeSelection();

builder.Build().Run();
