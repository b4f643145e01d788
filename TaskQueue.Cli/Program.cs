using TaskQueue.Cli;

return await TaskQueueCli.InvokeAsync(args);
