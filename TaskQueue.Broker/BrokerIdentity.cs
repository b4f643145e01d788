namespace TaskQueue.Broker;

/// <summary>This broker process's id: in every worker's welcome and in the worker registry (GET /workers).</summary>
internal sealed class BrokerIdentity
{
    public string BrokerId { get; } = $"{Environment.MachineName}-{Environment.ProcessId}";
}
