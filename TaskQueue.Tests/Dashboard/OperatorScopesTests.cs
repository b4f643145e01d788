using TaskQueue.Broker.Security;
using TaskQueue.Dashboard.Signing;
using TaskQueue.Protocol;

namespace TaskQueue.Tests.Dashboard;

/// <summary>The dashboard hides a control exactly when the broker would refuse its call: both decide with ScopeGrammar.</summary>
public sealed class OperatorScopesTests
{
    [Theory]
    [InlineData("admin:billing-*", ScopeActions.Admin, "billing-eu")]
    [InlineData("admin:billing-*", ScopeActions.Read, "billing-eu")]
    [InlineData("admin:billing-*", ScopeActions.Admin, "billing")]
    [InlineData("read:*", ScopeActions.Admin, "emails")]
    [InlineData("read:*", ScopeActions.Read, "emails")]
    [InlineData("read:a*a*a", ScopeActions.Read, "aaaa")]
    [InlineData("read:a*a*a", ScopeActions.Read, "aa")]
    [InlineData("consume:*", ScopeActions.Read, "emails")]
    [InlineData("submit:emails", ScopeActions.Submit, "emails")]
    public void The_dashboard_and_the_broker_agree_on_what_a_scope_allows(string scope, string action, string queue)
    {
        Assert.True(Scope.TryParse(scope, out var parsed));
        Assert.Equal(parsed.Value.Allows(action, queue), new OperatorScopes([scope]).Allows(action, queue));
    }

    [Fact]
    public void Only_an_admin_scope_on_some_queue_opens_the_audit_trail()
    {
        Assert.True(new OperatorScopes(["read:*", "admin:billing-*"]).MayAdminAny);
        Assert.False(new OperatorScopes(["read:*", "consume:*"]).MayAdminAny);
        Assert.False(new OperatorScopes(["admin"]).MayAdminAny); // no pattern: not a scope
    }
}
