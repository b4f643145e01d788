using Microsoft.Extensions.Options;
using TaskQueue.Broker.Limits;

namespace TaskQueue.Tests.Limits;

public sealed class WaitSlotsTests
{
    private static WaitSlots Slots(int perConnection, int total) =>
        new(Options.Create(new LimitOptions { MaxWaitsPerConnection = perConnection, MaxWaits = total }));

    [Fact]
    public void A_connection_past_its_cap_is_refused_while_another_connection_still_gets_slots()
    {
        var slots = Slots(perConnection: 2, total: 10);
        using var first = slots.Enter("c1");
        using var second = slots.Enter("c1");

        var refused = Assert.Throws<LimitExceededException>(() => slots.Enter("c1"));
        using var other = slots.Enter("c2");

        Assert.Contains("per connection", refused.Message, StringComparison.Ordinal);
        Assert.NotNull(refused.RetryAfter);
        Assert.Equal(3, slots.Open);
    }

    [Fact]
    public void The_total_cap_holds_across_connections()
    {
        var slots = Slots(perConnection: 2, total: 3);
        using var a = slots.Enter("c1");
        using var b = slots.Enter("c2");
        using var c = slots.Enter("c3");

        var refused = Assert.Throws<LimitExceededException>(() => slots.Enter("c4"));

        Assert.Contains("open Wait calls, its limit", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_slot_given_back_once_frees_its_place_and_a_second_dispose_changes_nothing()
    {
        var slots = Slots(perConnection: 1, total: 1);
        var slot = slots.Enter("c1");
        Assert.Throws<LimitExceededException>(() => slots.Enter("c1"));

        slot.Dispose();
        slot.Dispose();
        using var again = slots.Enter("c1");

        Assert.Equal(1, slots.Open);
        Assert.Throws<LimitExceededException>(() => slots.Enter("c2"));
    }
}
