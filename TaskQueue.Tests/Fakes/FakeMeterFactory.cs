using System.Diagnostics.Metrics;

namespace TaskQueue.Tests.Fakes;

/// <summary>Meters for telemetry classes under test; nobody listens.</summary>
internal sealed class FakeMeterFactory : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options);
        _meters.Add(meter);
        return meter;
    }

    public void Dispose()
    {
        foreach (var meter in _meters)
        {
            meter.Dispose();
        }
    }
}
