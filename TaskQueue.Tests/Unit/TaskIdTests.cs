using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Unit;

public sealed class TaskIdTests
{
    private const string LocalId = "0197a1b2c3d4e5f60718293a4b5c6d7e";

    [Fact]
    public void A_new_id_is_32_lowercase_hex_digits_in_its_queue()
    {
        var id = TaskId.New("orders");

        Assert.Equal("orders", id.Queue);
        Assert.Equal(32, id.LocalId.Length);
        Assert.All(id.LocalId, c => Assert.True(char.IsAsciiHexDigitLower(c), $"'{c}' in {id.LocalId}"));
    }

    [Fact]
    public void New_ids_are_distinct() =>
        Assert.Equal(1000, Enumerable.Range(0, 1000).Select(_ => TaskId.New("q").LocalId).Distinct().Count());

    [Fact]
    public void The_string_form_is_queue_colon_local_id() =>
        Assert.Equal("orders:" + LocalId, new TaskId("orders", LocalId).ToString());

    [Theory]
    [InlineData("orders")]
    [InlineData("a")]
    [InlineData("tenant.emails-high_priority")]
    public void An_id_survives_a_round_trip_through_its_string_form(string queue)
    {
        var id = TaskId.New(queue);

        Assert.Equal(id, TaskId.Parse(id.ToString()));
        Assert.True(TaskId.TryParse(id.ToString(), out var parsed));
        Assert.Equal(id, parsed);
    }

    [Fact]
    public void A_queue_name_of_the_maximum_length_round_trips()
    {
        var id = TaskId.New(new string('q', TaskValidation.MaxQueueNameLength));

        Assert.Equal(id, TaskId.Parse(id.ToString()));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("orders")]
    [InlineData(LocalId)]
    [InlineData(":" + LocalId)]
    [InlineData("orders:")]
    [InlineData("orders::")]
    [InlineData("orders:" + LocalId + ":")]
    [InlineData("orders:0197A1B2C3D4E5F60718293A4B5C6D7E")]
    [InlineData("orders:0197a1b2c3d4e5f60718293a4b5c6d7")]
    [InlineData("orders:0197a1b2c3d4e5f60718293a4b5c6d7e0")]
    [InlineData("orders:0197a1b2c3d4e5f60718293a4b5c6d7g")]
    [InlineData("orders:0197a1b2-c3d4-e5f6-0718-293a4b5c6d7e")]
    [InlineData("orders: 197a1b2c3d4e5f60718293a4b5c6d7e")]
    [InlineData("or:ders:" + LocalId)]
    [InlineData("{orders}:" + LocalId)]
    [InlineData("ord ers:" + LocalId)]
    [InlineData("orders\n:" + LocalId)]
    public void Malformed_ids_do_not_parse(string? text)
    {
        Assert.False(TaskId.TryParse(text, out var id));
        Assert.Null(id);
        var error = Assert.Throws<TaskValidationException>(() => TaskId.Parse(text));
        Assert.Equal("task_id", error.Field);
        Assert.False(error.TooLarge);
    }

    [Fact]
    public void An_id_whose_queue_name_is_too_long_does_not_parse() =>
        Assert.False(TaskId.TryParse(new string('q', TaskValidation.MaxQueueNameLength + 1) + ":" + LocalId, out _));
}
