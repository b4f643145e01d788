using System.Reflection;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Unit;

public sealed class RedisKeysTests
{
    private const string Queue = "orders";
    private static readonly TaskId s_id = new(Queue, "0197a1b2c3d4e5f60718293a4b5c6d7e");

    public static TheoryData<string, string> DocumentedKeys => new()
    {
        { RedisKeys.QueuePrefix(Queue), "tq:{orders}:" },
        { RedisKeys.Task(s_id), "tq:{orders}:t:0197a1b2c3d4e5f60718293a4b5c6d7e" },
        { RedisKeys.Ready(Queue, 0), "tq:{orders}:ready:0" },
        { RedisKeys.Ready(Queue, 9), "tq:{orders}:ready:9" },
        { RedisKeys.Ready(Queue, 4, "resize-image"), "tq:{orders}:ready:4:resize-image" },
        { RedisKeys.ReadyLane(Queue, RedisKeys.Lane(2, "resize-image")), "tq:{orders}:ready:2:resize-image" },
        { RedisKeys.Lane(0, "a:b"), "0:a:b" },
        { RedisKeys.Levels(Queue), "tq:{orders}:levels" },
        { RedisKeys.Leases(Queue), "tq:{orders}:leases" },
        { RedisKeys.Scheduled(Queue), "tq:{orders}:scheduled" },
        { RedisKeys.DeadLetters(Queue), "tq:{orders}:dead" },
        { RedisKeys.Stats(Queue), "tq:{orders}:stats" },
        { RedisKeys.Front(Queue), "tq:{orders}:front" },
        { RedisKeys.Turn(Queue), "tq:{orders}:turn" },
        { RedisKeys.Lane(3, "mail", "acme"), "3:mail\u001facme" },
        { RedisKeys.Lane(3, "mail", ""), "3:mail" },
        { RedisKeys.GroupLanes(Queue), "tq:{orders}:glanes" },
        { RedisKeys.Rotations(Queue), "tq:{orders}:rotations" },
        { RedisKeys.Rotation(Queue, 3, "mail"), "tq:{orders}:rotation:3:mail" },
        { RedisKeys.GroupLeased(Queue), "tq:{orders}:group:leased" },
        { RedisKeys.GroupBucket(Queue, "acme"), "tq:{orders}:group:bucket:acme" },
        { RedisKeys.Idempotency(Queue, "order-17"), "tq:{orders}:idem:order-17" },
        { RedisKeys.Waiters(Queue), "tq:{orders}:waiters" },
        { RedisKeys.Watchers(Queue), "tq:{orders}:watchers" },
        { RedisKeys.Queues, "tq:queues" },
        { RedisKeys.Due, "tq:due" },
        { RedisKeys.Workers, "tq:workers" },
        { RedisKeys.Worker("w-1"), "tq:worker:w-1" },
    };

    [Theory]
    [MemberData(nameof(DocumentedKeys))]
    public void Keys_are_named_as_documented(string actual, string expected) => Assert.Equal(expected, actual);

    [Fact]
    public void Every_key_of_a_queue_hangs_off_its_prefix_and_carries_the_queue_as_its_hash_tag()
    {
        var keys = QueueKeys(Queue).ToList();

        Assert.Superset(
            new HashSet<string>(StringComparer.Ordinal)
            {
                RedisKeys.QueuePrefix(Queue), RedisKeys.Task(new TaskId(Queue, s_id.LocalId)), RedisKeys.Ready(Queue, 7),
                RedisKeys.Levels(Queue), RedisKeys.Leases(Queue), RedisKeys.Scheduled(Queue), RedisKeys.DeadLetters(Queue),
                RedisKeys.Stats(Queue), RedisKeys.Idempotency(Queue, "k"),
            },
            keys.ToHashSet(StringComparer.Ordinal));
        Assert.All(keys, key =>
        {
            Assert.StartsWith(RedisKeys.QueuePrefix(Queue), key, StringComparison.Ordinal);
            Assert.Equal(Queue, HashTag(key));
        });
    }

    [Theory]
    [InlineData("a")]
    [InlineData("tenant.emails-high_priority")]
    [InlineData("ünïcödé")]
    public void Any_valid_queue_name_is_the_hash_tag_of_all_its_keys(string queue) =>
        Assert.All(QueueKeys(queue), key => Assert.Equal(queue, HashTag(key)));

    [Theory]
    [InlineData("4:resize-image", 4, "resize-image")]
    [InlineData("0:a:b", 0, "a:b")]
    [InlineData("7", 7, null)]
    [InlineData("2:a:b\u001fx:y", 2, "a:b")]
    public void A_lane_name_gives_back_its_priority_and_type_and_the_old_layout_has_none(string lane, int priority, string? type) =>
        Assert.Equal((priority, type), RedisKeys.ParseLane(lane));

    [Theory]
    [InlineData("2:a:b\u001fx:y", "x:y")]
    [InlineData("2:a:b", "")]
    [InlineData("7", "")]
    public void A_group_lane_name_gives_back_its_group(string lane, string group) =>
        Assert.Equal(group, RedisKeys.GroupOfLane(lane));

    [Fact]
    public void Braces_inside_a_task_type_do_not_move_its_lane_to_another_slot() =>
        Assert.Equal(Queue, HashTag(RedisKeys.Ready(Queue, 1, "{evil}")));

    [Fact]
    public void Braces_inside_an_idempotency_key_do_not_move_the_key_to_another_slot() =>
        Assert.Equal(Queue, HashTag(RedisKeys.Idempotency(Queue, "{evil}:{key}")));

    [Fact]
    public void The_global_keys_are_outside_every_queue()
    {
        Assert.Null(HashTag(RedisKeys.Queues));
        Assert.Null(HashTag(RedisKeys.Due));
        Assert.Null(HashTag(RedisKeys.Workers));
        Assert.Null(HashTag(RedisKeys.Worker("w-1")));
    }

    [Theory]
    [InlineData("leases")]
    [InlineData("scheduled")]
    [InlineData("dead")]
    [InlineData("levels")]
    [InlineData("stats")]
    [InlineData("t:")]
    [InlineData("ready:")]
    [InlineData("idem:")]
    [InlineData("waiters")]
    [InlineData("watchers")]
    public void The_scripts_build_the_same_key_suffixes_as_the_store(string suffix)
    {
        var common = ScriptLibrary.Get("stats");
        Assert.Contains($"base .. '{suffix}'", common, StringComparison.Ordinal);
    }

    [Fact]
    public void The_scripts_name_the_registry_and_the_due_index_as_the_store_does()
    {
        var common = ScriptLibrary.Get("claim");
        Assert.Contains($"local QUEUES = '{RedisKeys.Queues}'", common, StringComparison.Ordinal);
        Assert.Contains($"local DUE = '{RedisKeys.Due}'", common, StringComparison.Ordinal);
    }

    [Fact]
    public void The_scripts_publish_finished_tasks_on_the_channel_the_store_listens_to() =>
        Assert.Contains($"local FINISHED_CHANNEL = '{RedisKeys.FinishedChannel}'", ScriptLibrary.Get("complete"), StringComparison.Ordinal);

    [Fact]
    public void The_scripts_publish_watched_changes_on_the_channel_the_brokers_listen_to() =>
        Assert.Contains($"local CHANGED_CHANNEL = '{RedisKeys.ChangedChannel}'", ScriptLibrary.Get("progress"), StringComparison.Ordinal);

    [Fact]
    public void A_finished_message_parses_back_into_the_task_id()
    {
        var id = TaskId.New("tenant.emails-high_priority");

        Assert.Equal(id, RedisKeys.ParseFinished(RedisKeys.QueuePrefix(id.Queue) + id.LocalId));
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("tq:{orders")]
    [InlineData("tq:orders}:0197a1b2c3d4e5f60718293a4b5c6d7e")]
    [InlineData("tq:}:{orders")]
    public void A_malformed_finished_message_parses_to_nothing(string message) => Assert.Null(RedisKeys.ParseFinished(message));

    /// <summary>Every per-queue key the store names, found by reflection so new keys are covered too.</summary>
    private static IEnumerable<string> QueueKeys(string queue)
    {
        var id = new TaskId(queue, s_id.LocalId);
        foreach (var method in typeof(RedisKeys).GetMethods(BindingFlags.Public | BindingFlags.Static))
        {
            if (method.ReturnType != typeof(string))
            {
                continue;
            }

            var parameters = method.GetParameters();
            object?[]? args = parameters switch
            {
                [{ ParameterType: var t }] when t == typeof(TaskId) => [id],
                [{ Name: "queue", ParameterType: var t }] when t == typeof(string) => [queue],
                [{ Name: "queue" }, { ParameterType: var t }] when t == typeof(int) => [queue, 7],
                [{ Name: "queue" }, { ParameterType: var t }] when t == typeof(string) => [queue, "k"],
                _ => null,
            };
            if (args is not null)
            {
                yield return (string)method.Invoke(null, args)!;
            }
        }
    }

    /// <summary>The part of a key Redis Cluster hashes: between the first '{' and the next '}', if not empty.</summary>
    private static string? HashTag(string key)
    {
        var open = key.IndexOf('{', StringComparison.Ordinal);
        if (open < 0)
        {
            return null;
        }

        var close = key.IndexOf('}', open + 1);
        return close <= open + 1 ? null : key[(open + 1)..close];
    }
}
