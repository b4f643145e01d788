using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using ImageShop.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace ImageShop.Tests;

/// <summary>The whole ImageShop — Redis, the TaskQueue broker, the resizer and the API — as its AppHost runs it.</summary>
public sealed class ResizeTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task An_image_queued_through_the_api_is_resized_by_the_worker_and_the_api_returns_the_thumbnail()
    {
        using var timeout = new CancellationTokenSource(s_timeout);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.ImageShop_AppHost>(timeout.Token);
        await using var app = await builder.BuildAsync(timeout.Token);
        await app.StartAsync(timeout.Token);
        await app.ResourceNotifications.WaitForResourceAsync("api", KnownResourceStates.Running, timeout.Token);
        await app.ResourceNotifications.WaitForResourceAsync("resizer", KnownResourceStates.Running, timeout.Token);

        using var api = app.CreateHttpClient("api");
        var id = await QueueAsync(api, new ResizeImage("https://images.example/cat.png", 128, 96), timeout.Token);
        var resized = await api.GetFromJsonAsync<ResizedImage>($"/images/resize/{id}", timeout.Token);

        Assert.NotNull(resized);
        Assert.Equal("https://images.example/cat.png?w=128&h=96", resized.ThumbnailUrl);
        Assert.Equal((128, 96), (resized.Width, resized.Height));

        // The operator's view: TaskQueue's CLI (a dotnet tool; its path in TASKQUEUE_CLI) reads the queue's counts, with
        // the operator key the AppHost generated (the taskqueue-admin-key parameter).
        if (Environment.GetEnvironmentVariable("TASKQUEUE_CLI") is { Length: > 0 } cli)
        {
            var brokers = await app.GetConnectionStringAsync("taskqueue", timeout.Token);
            var taskQueue = app.Services.GetRequiredService<DistributedApplicationModel>().Resources.OfType<TaskQueueResource>().Single();
            var adminKey = await taskQueue.AdminKeyParameter.GetValueAsync(timeout.Token);
            var stats = await RunAsync(cli, ["stats", "--json", "--broker", brokers!.Split(',')[0]], adminKey!, timeout.Token);
            using var json = JsonDocument.Parse(stats);
            Assert.Contains("\"completed\"", stats, StringComparison.Ordinal);
        }
    }

    /// <summary>POSTs the resize, retrying while the API is still starting; returns the task id.</summary>
    private static async Task<string> QueueAsync(HttpClient api, ResizeImage request, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                var response = await api.PostAsJsonAsync("/images/resize", request, cancellationToken);
                response.EnsureSuccessStatusCode();
                var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
                return body.GetProperty("id").GetString()!;
            }
            catch (HttpRequestException)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
            }
        }
    }

    private static async Task<string> RunAsync(string command, string[] args, string apiKey, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.Environment["TaskQueue__ApiKey"] = apiKey;
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        Assert.True(process.ExitCode == 0, $"{command} {string.Join(' ', args)} exited {process.ExitCode}: {await errors}");
        return await output;
    }
}
