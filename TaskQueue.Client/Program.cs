using TaskQueue.Client.Cli;

return await TaskQueueCli.InvokeAsync(args);
