using TaskQueue.Broker.Security;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;

namespace TaskQueue.Tests.Security;

public sealed class RpcPermissionsTests
{
    [Fact]
    public void Every_TaskService_rpc_has_a_row_in_the_permission_table()
    {
        var rpcs = TaskService.Descriptor.Methods.Select(m => m.InputType.FullName).Order(StringComparer.Ordinal);
        var rows = RpcPermissions.RequestTypes.Select(type => "taskqueue.v1." + type.Name).Order(StringComparer.Ordinal);

        Assert.Equal(rpcs, rows);
    }

    [Fact]
    public void A_request_type_not_in_the_table_needs_a_permission_no_one_has()
    {
        Assert.Null(RpcPermissions.For(new object()));
        Assert.Null(RpcPermissions.For(new Hello()));
    }
}
