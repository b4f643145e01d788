using Microsoft.Extensions.Options;

namespace TaskQueue.Broker.Limits;

/// <summary>
/// Counts the open Wait calls, per connection and in total, and refuses one past either cap. A slot is held
/// from the call's start until it ends, however it ends (answer, timeout, cancellation, error): dispose it.
/// </summary>
internal sealed class WaitSlots(IOptions<LimitOptions> options)
{
    private readonly LimitOptions _options = options.Value;
    private readonly Dictionary<string, int> _byConnection = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private int _total;

    /// <summary>Open Wait calls on this broker now.</summary>
    public int Open
    {
        get
        {
            lock (_gate)
            {
                return _total;
            }
        }
    }

    /// <summary>Takes a slot for a Wait on <paramref name="connection"/>; throws <see cref="LimitExceededException"/> when full.</summary>
    public Slot Enter(string connection)
    {
        lock (_gate)
        {
            if (_total >= _options.MaxWaits)
            {
                throw new LimitExceededException(
                    $"The broker holds {_options.MaxWaits} open Wait calls, its limit; retry later or read the task with Get.", TimeSpan.FromSeconds(1));
            }

            var open = _byConnection.GetValueOrDefault(connection);
            if (open >= _options.MaxWaitsPerConnection)
            {
                throw new LimitExceededException(
                    $"This connection holds {_options.MaxWaitsPerConnection} open Wait calls, the limit per connection; wait for some to end.", TimeSpan.FromSeconds(1));
            }

            _byConnection[connection] = open + 1;
            _total++;
        }

        return new Slot(this, connection);
    }

    private void Leave(string connection)
    {
        lock (_gate)
        {
            _total--;
            var open = _byConnection[connection] - 1;
            if (open == 0)
            {
                _byConnection.Remove(connection);
            }
            else
            {
                _byConnection[connection] = open;
            }
        }
    }

    /// <summary>One Wait's slot; disposing it gives the slot back (once).</summary>
    public sealed class Slot(WaitSlots owner, string connection) : IDisposable
    {
        private int _left;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0)
            {
                owner.Leave(connection);
            }
        }
    }
}
