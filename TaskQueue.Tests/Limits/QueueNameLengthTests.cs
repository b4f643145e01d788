using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Limits;

/// <summary>Queue names are measured in characters as the README says: Unicode scalar values, not UTF-16 units.</summary>
public sealed class QueueNameLengthTests
{
    private const string Emoji = "\U0001F680"; // two UTF-16 units, one character

    [Fact]
    public void A_queue_name_of_128_emoji_is_accepted() =>
        Assert.Null(TaskValidation.QueueNameProblem(string.Concat(Enumerable.Repeat(Emoji, 128))));

    [Fact]
    public void A_queue_name_of_65_emoji_is_accepted_though_it_is_130_utf16_units() =>
        Assert.Null(TaskValidation.QueueNameProblem(string.Concat(Enumerable.Repeat(Emoji, 65))));

    [Fact]
    public void A_queue_name_of_129_emoji_is_refused() =>
        Assert.Equal(
            "the queue name is longer than 128 characters",
            TaskValidation.QueueNameProblem(string.Concat(Enumerable.Repeat(Emoji, 129))));

    [Fact]
    public void A_lone_surrogate_is_refused()
    {
        // Built in code: theory data would not keep a lone surrogate intact.
        Assert.Contains("surrogate", TaskValidation.QueueNameProblem("orders" + (char)0xD83D), StringComparison.Ordinal);
        Assert.Contains("surrogate", TaskValidation.QueueNameProblem((char)0xDE80 + "orders"), StringComparison.Ordinal);
    }

    [Fact]
    public void A_task_id_of_an_emoji_queue_parses() =>
        Assert.Equal(string.Concat(Enumerable.Repeat(Emoji, 100)), TaskId.Parse(TaskId.New(string.Concat(Enumerable.Repeat(Emoji, 100))).ToString()).Queue);

    [Fact]
    public void A_malformed_task_id_is_quoted_only_in_part()
    {
        var error = Assert.Throws<TaskValidationException>(() => TaskId.Parse(new string('x', 100_000)));

        Assert.InRange(error.Message.Length, 1, 300);
    }
}
