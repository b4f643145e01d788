var builder = DistributedApplication.CreateBuilder(args);

builder.AddProject<Projects.TaskQueue_Broker>("broker");

builder.Build().Run();
