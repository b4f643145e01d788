using TaskQueue.Broker.Security;
using TaskQueue.Protocol;

namespace TaskQueue.Tests.Security;

public sealed class ScopeTests
{
    [Theory]
    [InlineData("*", "billing", true)]
    [InlineData("*", "a", true)]
    [InlineData("billing", "billing", true)]
    [InlineData("billing", "billing-eu", false)]
    [InlineData("billing-*", "billing-eu", true)]
    [InlineData("billing-*", "billing-", true)]
    [InlineData("billing-*", "billing", false)]
    [InlineData("*-eu", "billing-eu", true)]
    [InlineData("*-eu", "billing-us", false)]
    [InlineData("b*g-*-eu", "billing-x-eu", true)]
    [InlineData("b*g-*-eu", "billing-x-us", false)]
    [InlineData("a*a*a", "aaaa", true)]
    [InlineData("a*a*a", "aa", false)]
    [InlineData("Billing", "billing", false)]
    [InlineData("**", "anything", true)]
    public void A_pattern_matches_queue_names_with_star_as_any_run_of_characters(string pattern, string queue, bool matches) =>
        Assert.Equal(matches, Scope.Matches(pattern, queue));

    [Fact]
    public void A_long_pattern_of_stars_against_a_long_name_answers_at_once()
    {
        var pattern = string.Concat(Enumerable.Repeat("a*", 60)) + "b";
        Assert.False(Scope.Matches(pattern, new string('a', 128)));
    }

    [Fact]
    public void Admin_on_a_queue_implies_read_on_it_but_nothing_else()
    {
        var admin = Parse("admin:billing-*");

        Assert.True(admin.Allows(ScopeActions.Admin, "billing-eu"));
        Assert.True(admin.Allows(ScopeActions.Read, "billing-eu"));
        Assert.False(admin.Allows(ScopeActions.Submit, "billing-eu"));
        Assert.False(admin.Allows(ScopeActions.Consume, "billing-eu"));
        Assert.False(admin.Allows(ScopeActions.Read, "emails"));
    }

    [Fact]
    public void Read_does_not_imply_admin_and_consume_does_not_imply_submit()
    {
        Assert.False(Parse("read:*").Allows(ScopeActions.Admin, "q"));
        Assert.False(Parse("consume:*").Allows(ScopeActions.Submit, "q"));
    }

    [Fact]
    public void Every_queue_of_a_request_must_be_allowed_by_some_scope()
    {
        List<Scope> granted = [Parse("submit:billing"), Parse("submit:emails-*")];

        Assert.True(Scopes.Allow(granted, ScopeActions.Submit, ["billing", "emails-eu"]));
        Assert.False(Scopes.Allow(granted, ScopeActions.Submit, ["billing", "reports"]));
        Assert.True(Scopes.AllowAny(granted, ScopeActions.Submit));
        Assert.False(Scopes.AllowAny(granted, ScopeActions.Read));
    }

    [Theory]
    [InlineData("")]
    [InlineData("consume")]
    [InlineData("consume:")]
    [InlineData(":q")]
    [InlineData("delete:q")]
    [InlineData("Consume:q")]
    [InlineData("consume:has space")]
    [InlineData("consume:{tag}")]
    [InlineData("consume:a:b")]
    public void Text_that_is_not_action_colon_pattern_is_no_scope(string text) =>
        Assert.False(Scope.TryParse(text, out _));

    [Fact]
    public void A_configured_entry_may_hold_several_scopes_separated_by_spaces()
    {
        var scopes = Scopes.Parse(["submit:a read:a", "consume:*"], "setting");

        Assert.Equal(["submit:a", "read:a", "consume:*"], scopes.Select(s => s.ToString()));
    }

    [Fact]
    public void A_configured_entry_that_is_no_scope_is_refused_with_the_setting_named()
    {
        var error = Assert.Throws<ArgumentException>(() => Scopes.Parse(["submit:a", "write:b"], "TaskQueue:Security:ApiKeys:x:Scopes"));

        Assert.Contains("TaskQueue:Security:ApiKeys:x:Scopes", error.Message, StringComparison.Ordinal);
        Assert.Contains("'write:b'", error.Message, StringComparison.Ordinal);
    }

    private static Scope Parse(string text) => Scope.TryParse(text, out var scope) ? scope.Value : throw new ArgumentException(text);
}
