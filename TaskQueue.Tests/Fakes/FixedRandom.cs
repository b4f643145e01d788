namespace TaskQueue.Tests.Fakes;

/// <summary>A <see cref="Random"/> whose every draw is the same number: jitter a test can predict.</summary>
internal sealed class FixedRandom(double value) : Random
{
    public override double NextDouble() => value;
}
