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
        { RedisKeys.Attempts(s_id), "tq:{orders}:attempts:0197a1b2c3d4e5f60718293a4b5c6d7e" },
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
        { RedisKeys.GroupReady(Queue, RedisKeys.Lane(3, "mail", "acme")), "tq:{orders}:gready:3:mail\u001facme" },
        { RedisKeys.LaneSeq(Queue), "tq:{orders}:lane:seq" },
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
    [InlineData("gready:")]
    [InlineData("lane:seq")]
    [InlineData("idem:")]
    [InlineData("waiters")]
    [InlineData("watchers")]
    public void The_scripts_build_the_same_key_suffixes_as_the_store(string suffix)
    {
        var common = ScriptLibrary.Get("stats");
        Assert.Contains($"base .. '{suffix}'", common, StringComparison.Ordinal);
    }

    [Fact]
    public void The_scripts_take_the_due_index_registry_and_schedule_index_at_the_places_the_store_passes_them()
    {
        // RedisKeySpace.ScriptKeys: prefix, due index, registry, schedule index.
        var common = ScriptLibrary.Get("claim");
        Assert.Contains("local DUE = KEYS[2]", common, StringComparison.Ordinal);
        Assert.Contains("local QUEUES = KEYS[3]", common, StringComparison.Ordinal);
        Assert.Contains("local SCHED_DUE = KEYS[4]", ScriptLibrary.Get("schedule_fire"), StringComparison.Ordinal);
    }

    [Fact]
    public void A_slots_index_keys_share_the_slot_of_every_queue_in_it()
    {
        foreach (var queue in new[] { Queue, "emails", "q-0123456789ab", "a", "{weird}" })
        {
            var tag = ClusterSlots.TagOfQueue(queue);
            var slot = ClusterSlots.OfQueue(queue);
            Assert.Equal(slot, ClusterSlots.Of(RedisKeys.SlotDue(tag)));
            Assert.Equal(slot, ClusterSlots.Of(RedisKeys.SlotQueues(tag)));
            Assert.Equal(slot, ClusterSlots.Of(RedisKeys.SlotScheduleDue(tag)));
            Assert.Equal(slot, ClusterSlots.Of(RedisKeys.Task(new TaskId(queue, "1"))));
        }
    }

    [Theory]
    [InlineData("123456789", 12739)] // CRC16/XMODEM's check value 0x31C3, as the Redis Cluster spec gives it
    [InlineData("foo", 12182)]
    [InlineData("{user1000}.following", 3443)]
    [InlineData("{user1000}.followers", 3443)]
    [InlineData("foo{}{bar}", 8363)] // an empty first tag: the whole key is hashed
    [InlineData("foo{{bar}}zap", 4015)] // the tag is "{bar"
    public void Slots_are_computed_as_Redis_Cluster_computes_them(string key, int slot) =>
        Assert.Equal(slot, ClusterSlots.Of(key));

    [Fact]
    public void Every_slot_has_a_tag_of_its_own()
    {
        var tags = Enumerable.Range(0, ClusterSlots.Count).Select(ClusterSlots.Tag).ToList();
        Assert.Equal(ClusterSlots.Count, tags.Distinct(StringComparer.Ordinal).Count());
        Assert.All(Enumerable.Range(0, ClusterSlots.Count), slot => Assert.Equal(slot, ClusterSlots.Of("{" + tags[slot] + "}")));
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
