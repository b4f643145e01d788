using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Storage;

public sealed class ValidationTests
{
    private static readonly Dictionary<string, string> s_badQueueNames = new(StringComparer.Ordinal)
    {
        ["empty"] = "",
        ["129 characters"] = new string('q', 129),
        ["open brace"] = "orders{1",
        ["close brace"] = "orders}1",
        ["colon"] = "orders:1",
        ["space"] = "orders 1",
        ["tab"] = "orders\t1",
        ["newline"] = "orders\n1",
        ["control character"] = "orders\u00011",
        ["no-break space"] = "orders\u00a01",
    };

    [Theory]
    [InlineData("empty")]
    [InlineData("129 characters")]
    [InlineData("open brace")]
    [InlineData("close brace")]
    [InlineData("colon")]
    [InlineData("space")]
    [InlineData("tab")]
    [InlineData("newline")]
    [InlineData("control character")]
    [InlineData("no-break space")]
    public async Task A_bad_queue_name_is_refused_and_nothing_of_the_batch_is_written(string problem)
    {
        var h = await StoreHarness.CreateAsync();
        var bad = s_badQueueNames[problem];

        var error = await Assert.ThrowsAsync<TaskValidationException>(
            () => h.Store.EnqueueBatchAsync([h.Task(), new NewTask(bad, "echo", "x"u8.ToArray())]));

        Assert.Equal("queue", error.Field);
        Assert.False(error.TooLarge);
        await AssertNothingWrittenAsync(h, bad);
        var claimError = await Assert.ThrowsAsync<TaskValidationException>(() => h.Store.ClaimAsync(bad, "w1", 1, TimeSpan.FromSeconds(5)));
        Assert.Equal("queue", claimError.Field);
        Assert.Null(TaskValidation.QueueNameProblem(h.Queue));
        Assert.NotNull(TaskValidation.QueueNameProblem(bad));
    }

    [Fact]
    public async Task A_queue_name_of_128_printable_characters_is_accepted()
    {
        var h = await StoreHarness.CreateAsync();
        var name = h.Queue + new string('x', 128 - h.Queue.Length);

        var result = await h.Store.EnqueueAsync(new NewTask(name, "echo", "x"u8.ToArray()));

        Assert.Equal(name, result.Id.Queue);
        Assert.Single((await h.Store.ClaimAsync(name, "w1", 1, TimeSpan.FromSeconds(5))).Tasks);
    }

    [Fact]
    public async Task A_payload_over_the_limit_is_refused_as_too_large()
    {
        var h = await StoreHarness.CreateAsync(options => options.MaxPayloadBytes = 1024);

        var error = await Assert.ThrowsAsync<TaskValidationException>(
            () => h.Store.EnqueueBatchAsync([h.Task(), h.Task() with { Payload = new byte[1025] }]));

        Assert.Equal(("payload", true), (error.Field, error.TooLarge));
        await AssertNothingWrittenAsync(h);
        Assert.False((await h.Store.EnqueueAsync(h.Task() with { Payload = new byte[1024] })).Duplicate);
    }

    public static TheoryData<string, string> BadFields() => new()
    {
        { "max attempts 0", "max_attempts" },
        { "max attempts -1", "max_attempts" },
        { "negative delay", "delay" },
        { "zero timeout", "execution_timeout" },
        { "negative timeout", "execution_timeout" },
        { "zero expiry", "expires_after" },
        { "priority 10", "priority" },
        { "priority -1", "priority" },
        { "empty type", "type" },
        { "blank type", "type" },
        { "long type", "type" },
        { "long idempotency key", "idempotency_key" },
    };

    [Theory]
    [MemberData(nameof(BadFields))]
    public async Task A_bad_field_is_refused_with_its_name_and_nothing_is_written(string problem, string field)
    {
        var h = await StoreHarness.CreateAsync();
        var task = h.Task();
        var bad = problem switch
        {
            "max attempts 0" => task with { MaxAttempts = 0 },
            "max attempts -1" => task with { MaxAttempts = -1 },
            "negative delay" => task with { Delay = TimeSpan.FromMilliseconds(-1) },
            "zero timeout" => task with { ExecutionTimeout = TimeSpan.Zero },
            "negative timeout" => task with { ExecutionTimeout = TimeSpan.FromSeconds(-5) },
            "zero expiry" => task with { ExpiresAfter = TimeSpan.Zero },
            "priority 10" => task with { Priority = 10 },
            "priority -1" => task with { Priority = -1 },
            "empty type" => task with { Type = "" },
            "blank type" => task with { Type = "  " },
            "long type" => task with { Type = new string('t', 129) },
            "long idempotency key" => task with { IdempotencyKey = new string('k', 257) },
            _ => throw new ArgumentOutOfRangeException(nameof(problem)),
        };

        var error = await Assert.ThrowsAsync<TaskValidationException>(() => h.Store.EnqueueBatchAsync([h.Task(), bad]));

        Assert.Equal((field, false), (error.Field, error.TooLarge));
        await AssertNothingWrittenAsync(h);
    }

    [Fact]
    public async Task The_limits_themselves_are_accepted()
    {
        var h = await StoreHarness.CreateAsync();

        var results = await h.Store.EnqueueBatchAsync(
        [
            h.Task() with { Priority = 0, MaxAttempts = 1 },
            h.Task() with { Priority = 9, ExecutionTimeout = TimeSpan.FromMilliseconds(1), ExpiresAfter = TimeSpan.FromHours(1) },
            h.Task(new string('t', 128)) with { IdempotencyKey = new string('k', 256) },
        ]);

        Assert.Equal(3, results.Select(r => r.Id).Distinct().Count());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("no-separator")]
    [InlineData("orders:")]
    [InlineData(":0190a1b2c3d4e5f60718293a4b5c6d7e")]
    [InlineData("orders:0190a1b2c3d4e5f60718293a4b5c6d7")]
    [InlineData("orders:0190a1b2c3d4e5f60718293a4b5c6d7e0")]
    [InlineData("orders:0190A1B2C3D4E5F60718293A4B5C6D7E")]
    [InlineData("orders:0190a1b2-c3d4-e5f6-0718-293a4b5c")]
    [InlineData("orders:g190a1b2c3d4e5f60718293a4b5c6d7e")]
    [InlineData("ord ers:0190a1b2c3d4e5f60718293a4b5c6d7e")]
    [InlineData("{orders}:0190a1b2c3d4e5f60718293a4b5c6d7e")]
    public void A_malformed_task_id_is_refused(string? text)
    {
        var error = Assert.Throws<TaskValidationException>(() => TaskId.Parse(text));

        Assert.Equal("task_id", error.Field);
        Assert.False(TaskId.TryParse(text, out _));
    }

    [Fact]
    public void A_task_id_survives_its_string_form()
    {
        var id = TaskId.New("orders-eu");

        Assert.Equal(id, TaskId.Parse(id.ToString()));
        Assert.Equal(id, TaskId.Parse("orders-eu:" + id.LocalId));
    }

    private static async Task AssertNothingWrittenAsync(StoreHarness h, string? badQueue = null)
    {
        Assert.Empty(await h.QueueKeysAsync());
        var queues = await h.Store.GetQueuesAsync();
        Assert.DoesNotContain(h.Queue, queues);
        if (badQueue is not null)
        {
            Assert.DoesNotContain(badQueue, queues);
        }
    }
}
