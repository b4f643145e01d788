namespace TaskQueue.Client;

/// <summary>
/// What <see cref="TaskQueueClient.DrainWorkerAsync"/> did: the worker is draining (<see cref="Status"/>). The drain reached
/// its session at once on the broker that took the call (<see cref="DeliveredHere"/>) or was published to
/// <see cref="BrokersTold"/> other brokers; either way the broker holding the worker's stream drains it at the next heartbeat.
/// </summary>
/// <param name="Status">The worker's status now: "draining".</param>
/// <param name="Broker">The broker the worker registry names for it (the one holding its stream at its last heartbeat).</param>
/// <param name="DeliveredHere">A session on the broker that took the call drained it at once.</param>
/// <param name="BrokersTold">Otherwise, how many other brokers heard the drain (0: none; the registry still carries it).</param>
public sealed record WorkerDrainResult(string Status, string Broker, bool DeliveredHere, int BrokersTold);
