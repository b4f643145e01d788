using ProtoMapping = TaskQueue.Broker.ProtoMapping;
using TaskQueue.Client.Internal;
using ClientTaskState = TaskQueue.Client.TaskState;
using StoreTaskState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Tests.Unit;

/// <summary>
/// Three copies of a task's state must stay: the broker's domain enum, the protobuf enum on the wire and the
/// client package's public enum. Each side maps to the wire in one place (the broker's ProtoMapping, the
/// client's ProtocolMapper); these tests keep the three in step member by member.
/// </summary>
public sealed class TaskStateMappingTests
{
    // The protobuf enum as the broker and the client compiled it (the tests compile a copy of their own).
    private static readonly Type s_brokerProto = ProtoMapping.ToProto(StoreTaskState.Ready).GetType();
    private static readonly Type s_clientProto = typeof(ProtocolMapper).GetMethod(nameof(ProtocolMapper.ToState))!.GetParameters()[0].ParameterType;

    public static TheoryData<StoreTaskState> StoreStates => [.. Enum.GetValues<StoreTaskState>()];

    public static TheoryData<int> WireStates => [.. Enum.GetValues<Protocol.V1.TaskState>().Select(state => (int)state)];

    [Theory]
    [MemberData(nameof(StoreStates))]
    public void The_broker_sends_every_stored_state_as_the_wire_state_of_the_same_name(StoreTaskState state)
    {
        var wire = ProtoMapping.ToProto(state);

        Assert.Equal(state.ToString(), wire.ToString());
        Assert.NotEqual(0, Convert.ToInt32(wire, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Every_wire_state_but_unspecified_is_one_the_broker_can_send()
    {
        var sent = Enum.GetValues<StoreTaskState>().Select(state => ProtoMapping.ToProto(state).ToString()).ToHashSet(StringComparer.Ordinal);
        var wire = Enum.GetNames(s_brokerProto).Where(name => name != "Unspecified");

        Assert.Equal(wire.Order(StringComparer.Ordinal), sent.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(WireStates))]
    public void The_client_reads_every_wire_state_as_its_state_of_the_same_name(int number)
    {
        var wire = Enum.ToObject(s_clientProto, number);
        var state = (ClientTaskState)typeof(ProtocolMapper).GetMethod(nameof(ProtocolMapper.ToState))!.Invoke(null, [wire])!;

        Assert.Equal(wire.ToString() == "Unspecified" ? nameof(ClientTaskState.Unknown) : wire.ToString(), state.ToString());
    }

    [Fact]
    public void Every_client_state_but_unknown_is_one_the_wire_can_carry() =>
        Assert.Equal(
            Enum.GetNames(s_clientProto).Where(name => name != "Unspecified").Order(StringComparer.Ordinal),
            Enum.GetNames<ClientTaskState>().Where(name => name != nameof(ClientTaskState.Unknown)).Order(StringComparer.Ordinal));

    [Fact]
    public void The_broker_and_the_tests_compile_the_same_wire_enum() =>
        Assert.Equal(Enum.GetNames<Protocol.V1.TaskState>(), Enum.GetNames(s_brokerProto));
}
