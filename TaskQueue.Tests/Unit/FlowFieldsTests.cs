using System.Reflection;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Unit;

/// <summary>A queue's flow settings: Storage/FlowFields.cs, Storage/RedisKeys.cs and Scripts/lib/flow.lua name the same ones.</summary>
public sealed class FlowFieldsTests
{
    [Fact]
    public void The_flow_script_library_documents_every_field_the_store_names()
    {
        var claim = ScriptLibrary.Get("claim");
        var header = claim[claim.IndexOf("-- A queue's flow settings live in FLOW", StringComparison.Ordinal)..];
        header = header[..header.IndexOf("local FLOW", StringComparison.Ordinal)];

        var fields = typeof(FlowFields).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral)
            .Select(f => (string)f.GetRawConstantValue()!)
            .ToList();

        Assert.NotEmpty(fields);
        Assert.All(fields, field => Assert.Matches($@"--\s+(\w+, )*{field}\b", header));
    }

    [Fact]
    public void The_flow_keys_have_the_suffixes_the_store_builds()
    {
        var claim = ScriptLibrary.Get("claim");

        Assert.Contains("local FLOW = base .. 'flow'", claim, StringComparison.Ordinal);
        Assert.Contains("local FLOW_GROUPS = base .. 'flow:groups'", claim, StringComparison.Ordinal);
        Assert.EndsWith(":flow", RedisKeys.Flow("q"), StringComparison.Ordinal);
        Assert.EndsWith(":flow:groups", RedisKeys.FlowGroups("q"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0L, false, null)]
    [InlineData(-1L, true, null)]
    [InlineData(250L, true, 250)]
    public void A_claims_hold_reads_from_the_scripts_reply(long reply, bool held, int? retryAfterMs)
    {
        var hold = ClaimHold.FromScript(reply);

        Assert.Equal(held, hold.Held);
        Assert.Equal(retryAfterMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null, hold.RetryAfter);
    }
}
