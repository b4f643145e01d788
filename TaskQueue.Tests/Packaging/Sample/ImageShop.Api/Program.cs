using ImageShop.Contracts;
using TaskQueue.Client;

var builder = WebApplication.CreateBuilder(args);

// Finds the broker from ConnectionStrings:taskqueue and its API key from TaskQueue:ApiKey, which the AppHost's
// WithReference(taskQueue, scopes: [...]) sets.
builder.AddTaskQueueClient();

var app = builder.Build();

app.MapGet("/health", () => "ok");

// Queue a resize; the resizer runs it.
app.MapPost("/images/resize", async (ResizeImage request, TaskQueueClient tasks, CancellationToken cancellationToken) =>
{
    var submitted = await tasks.SubmitAsync(ResizeImage.TaskType, request, cancellationToken);
    return Results.Accepted($"/images/resize/{submitted.TaskId}", new { id = submitted.TaskId });
});

// Wait (up to 30 s) for the resize and return what the resizer made.
app.MapGet("/images/resize/{id}", async (string id, TaskQueueClient tasks, CancellationToken cancellationToken) =>
{
    var resized = await tasks.WaitAsync<ResizedImage>(id, TimeSpan.FromSeconds(30), cancellationToken);
    return resized.IsCompleted
        ? Results.Ok(resized.Result)
        : Results.Problem($"Resize {id} is {resized.State}: {resized.Error}", statusCode: StatusCodes.Status409Conflict);
});

app.Run();
