using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Unit;

public sealed class TaskValidationTests
{
    private static readonly TaskStoreOptions s_options = new() { MaxPayloadBytes = 1024 };

    private static NewTask Valid => new("orders", "send-email", new byte[16]);

    [Theory]
    [InlineData("orders")]
    [InlineData("a")]
    [InlineData("tenant.emails-high_priority")]
    [InlineData("ünïcödé")]
    [InlineData("#$%&*!|/\\")]
    public void Ordinary_queue_names_are_accepted(string queue)
    {
        Assert.Null(TaskValidation.QueueNameProblem(queue));
        TaskValidation.ValidateQueueName(queue);
    }

    [Fact]
    public void A_queue_name_of_128_characters_is_accepted() =>
        Assert.Null(TaskValidation.QueueNameProblem(new string('q', 128)));

    public static TheoryData<string?> BadQueueNames => new()
    {
        null,
        "",
        new string('q', 129),
        "{orders",
        "orders}",
        "{orders}",
        "or:ders",
        ":",
        "or ders",
        " orders",
        "orders ",
        "or\tders",
        "or\nders",
        "or\rders",
        "or\u00a0ders",
        "or\u2003ders",
        "or\u0000ders",
        "or\u0007ders",
        "or\u007fders",
        "or\u009fders",
    };

    [Theory]
    [MemberData(nameof(BadQueueNames))]
    public void Bad_queue_names_are_rejected(string? queue)
    {
        Assert.NotNull(TaskValidation.QueueNameProblem(queue));
        var error = Assert.Throws<TaskValidationException>(() => TaskValidation.ValidateQueueName(queue));
        Assert.Equal("queue", error.Field);
        Assert.False(error.TooLarge);
    }

    [Theory]
    [MemberData(nameof(BadQueueNames))]
    public void A_task_for_a_bad_queue_name_is_rejected(string? queue) =>
        AssertRejected(Valid with { Queue = queue! }, "queue");

    [Fact]
    public void A_control_character_in_a_queue_name_is_shown_escaped() =>
        Assert.Contains("\\u0007", TaskValidation.QueueNameProblem("a\u0007b"), StringComparison.Ordinal);

    [Fact]
    public void An_ordinary_task_is_accepted() => TaskValidation.Validate(Valid, s_options);

    [Fact]
    public void A_task_with_every_option_at_its_limit_is_accepted() =>
        TaskValidation.Validate(
            Valid with
            {
                Type = new string('t', TaskValidation.MaxTypeLength),
                Payload = new byte[s_options.MaxPayloadBytes],
                Priority = TaskValidation.MaxPriority,
                MaxAttempts = 1,
                Delay = TimeSpan.Zero,
                ExecutionTimeout = TimeSpan.FromTicks(1),
                ExpiresAfter = TimeSpan.FromTicks(1),
                IdempotencyKey = new string('k', TaskValidation.MaxIdempotencyKeyLength),
            },
            s_options);

    [Fact]
    public void An_empty_payload_is_accepted() => TaskValidation.Validate(Valid with { Payload = ReadOnlyMemory<byte>.Empty }, s_options);

    [Fact]
    public void A_payload_over_the_limit_is_rejected_as_too_large()
    {
        var error = AssertRejected(Valid with { Payload = new byte[s_options.MaxPayloadBytes + 1] }, "payload");

        Assert.True(error.TooLarge);
        Assert.Contains("1025", error.Message, StringComparison.Ordinal);
        Assert.Contains("1024", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_zero_payload_limit_allows_only_empty_payloads()
    {
        var options = new TaskStoreOptions { MaxPayloadBytes = 0 };

        TaskValidation.Validate(Valid with { Payload = ReadOnlyMemory<byte>.Empty }, options);
        Assert.True(Assert.Throws<TaskValidationException>(() => TaskValidation.Validate(Valid with { Payload = new byte[1] }, options)).TooLarge);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(9)]
    public void Priorities_from_zero_to_nine_are_accepted(int priority) =>
        TaskValidation.Validate(Valid with { Priority = priority }, s_options);

    [Theory]
    [InlineData(-1)]
    [InlineData(10)]
    [InlineData(int.MinValue)]
    [InlineData(int.MaxValue)]
    public void Priorities_outside_zero_to_nine_are_rejected(int priority) =>
        AssertRejected(Valid with { Priority = priority }, "priority");

    [Theory]
    [InlineData(null)]
    [InlineData(1)]
    [InlineData(1000)]
    public void Max_attempts_of_at_least_one_or_the_default_are_accepted(int? maxAttempts) =>
        TaskValidation.Validate(Valid with { MaxAttempts = maxAttempts }, s_options);

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public void Max_attempts_below_one_are_rejected(int maxAttempts) =>
        AssertRejected(Valid with { MaxAttempts = maxAttempts }, "max_attempts");

    [Fact]
    public void A_negative_delay_is_rejected() =>
        AssertRejected(Valid with { Delay = TimeSpan.FromMilliseconds(-1) }, "delay");

    [Theory]
    [InlineData(0)]
    [InlineData(-1000)]
    public void A_non_positive_execution_timeout_is_rejected(int ms) =>
        AssertRejected(Valid with { ExecutionTimeout = TimeSpan.FromMilliseconds(ms) }, "execution_timeout");

    [Theory]
    [InlineData(0)]
    [InlineData(-1000)]
    public void A_non_positive_expiry_is_rejected(int ms) =>
        AssertRejected(Valid with { ExpiresAfter = TimeSpan.FromMilliseconds(ms) }, "expires_after");

    [Fact]
    public void No_timeout_and_no_expiry_are_accepted() =>
        TaskValidation.Validate(Valid with { ExecutionTimeout = null, ExpiresAfter = null }, s_options);

    public static TheoryData<string> BadTypes => new()
    {
        "",
        " ",
        "\t",
        new string('t', TaskValidation.MaxTypeLength + 1),
        "send\nemail",
        "send\u0000email",
    };

    [Theory]
    [MemberData(nameof(BadTypes))]
    public void Bad_task_types_are_rejected(string type) => AssertRejected(Valid with { Type = type }, "type");

    [Fact]
    public void A_missing_task_type_is_rejected() => AssertRejected(Valid with { Type = null! }, "type");

    [Fact]
    public void An_idempotency_key_over_the_limit_is_rejected() =>
        AssertRejected(Valid with { IdempotencyKey = new string('k', TaskValidation.MaxIdempotencyKeyLength + 1) }, "idempotency_key");

    private static TaskValidationException AssertRejected(NewTask task, string field)
    {
        var error = Assert.Throws<TaskValidationException>(() => TaskValidation.Validate(task, s_options));
        Assert.Equal(field, error.Field);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        if (field != "payload")
        {
            Assert.False(error.TooLarge);
        }

        return error;
    }
}
