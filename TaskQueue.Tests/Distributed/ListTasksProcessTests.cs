using Grpc.Core;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Distributed;

/// <summary>ListTasks over gRPC on a real broker: pages with a cursor, and bad requests answered INVALID_ARGUMENT.</summary>
[Collection(DistributedCollection.Name)]
public sealed class ListTasksProcessTests
{
    [Fact]
    public async Task A_client_pages_through_a_queue_with_the_cursor_and_a_bad_request_is_invalid_argument()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        var client = cluster.Client(await cluster.StartBrokerAsync());
        var ids = await cluster.SubmitAsync(Enumerable.Range(0, 7).Select(i => cluster.Task("echo", "p" + i)));

        var listed = new List<TaskInfo>();
        var request = new ListTasksRequest { Queue = cluster.Queue, State = TaskState.Ready, Limit = 3, Order = ListOrder.OldestFirst };
        var pages = 0;
        do
        {
            var page = await client.ListTasksAsync(request, deadline: DateTime.UtcNow.AddSeconds(10));
            listed.AddRange(page.Tasks);
            request.Cursor = page.NextCursor;
            pages++;
        }
        while (request.Cursor.Length > 0 && pages < 10);

        Assert.Equal(ids, listed.Select(t => t.TaskId));
        Assert.Equal(3, pages);
        Assert.All(listed, t => Assert.True(t.Payload.IsEmpty && t.State == TaskState.Ready, $"{t.TaskId} listed with its payload or in {t.State}"));

        foreach (var bad in new[]
                 {
                     new ListTasksRequest { Queue = cluster.Queue, State = TaskState.Ready, Cursor = "garbage" },
                     new ListTasksRequest { Queue = cluster.Queue },
                     new ListTasksRequest { Queue = cluster.Queue, State = TaskState.Ready, Limit = 1001 },
                     new ListTasksRequest { Queue = "no:such:queue", State = TaskState.Ready },
                 })
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => client.ListTasksAsync(bad, deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync);
            Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        }
    }
}
