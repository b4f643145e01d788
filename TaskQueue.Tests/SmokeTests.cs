namespace TaskQueue.Tests;

public sealed class SmokeTests
{
    [Fact]
    public void The_test_project_builds() => Assert.Equal(2, 1 + 1);
}
