using TaskQueue.Benchmarks;

// `system ...`: the whole system on this machine; `store ...`: the broker's Redis store alone (README, "Performance").
return await BenchmarkCli.InvokeAsync(args);
