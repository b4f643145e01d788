using System.ComponentModel.DataAnnotations;

namespace TaskQueue.Broker.Audit;

/// <summary>The audit trail of admin actions (configuration section "TaskQueue:Audit").</summary>
public sealed class AuditOptions
{
    public const string SectionName = "TaskQueue:Audit";

    /// <summary>
    /// About how many entries the trail keeps (the newest; Redis trims whole stream nodes, so a few dozen more
    /// may stay). 10,000 entries of a few hundred bytes are a few MB of Redis memory.
    /// </summary>
    [Range(1, 10_000_000)]
    public int MaxEntries { get; set; } = 10_000;

    public void Validate() => Validator.ValidateObject(this, new ValidationContext(this), validateAllProperties: true);
}
