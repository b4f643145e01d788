using System.ComponentModel.DataAnnotations;

namespace TaskQueue.Broker.Schedules;

/// <summary>Settings of cron schedules and the scheduler loop (configuration section "TaskQueue:Schedules").</summary>
public sealed class ScheduleOptions : IValidatableObject
{
    public const string SectionName = "TaskQueue:Schedules";

    /// <summary>
    /// A due slot at most this far in the past (Redis time) is on time and fires whatever the catch-up policy; an older
    /// one was missed (every broker was down, or Redis was) and the catch-up policy decides. 1 s to 1 h.
    /// </summary>
    public TimeSpan MisfireThreshold { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The scheduler's longest sleep: it sleeps until the earliest due schedule, woken by upserts and resumes on any broker.</summary>
    public TimeSpan MaxSleep { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a schedule whose slot queue-one keeps back looks whether the running run ended.</summary>
    public TimeSpan BufferRecheck { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The most schedules one queue holds (an upsert of a new one past it is refused).</summary>
    [Range(1, 100_000)]
    public int MaxSchedulesPerQueue { get; set; } = 1000;

    /// <summary>Checks every setting (ranges and rules); throws <see cref="ValidationException"/> naming the first one out of bounds.</summary>
    public void Validate() => Validator.ValidateObject(this, new ValidationContext(this), validateAllProperties: true);

    /// <summary>The rules between settings that attributes cannot state.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MisfireThreshold < TimeSpan.FromSeconds(1) || MisfireThreshold > TimeSpan.FromHours(1))
        {
            yield return new ValidationResult("MisfireThreshold must be 1 s to 1 h.", [nameof(MisfireThreshold)]);
        }

        foreach (var (name, value) in new[] { (nameof(MaxSleep), MaxSleep), (nameof(BufferRecheck), BufferRecheck) })
        {
            if (value < TimeSpan.FromMilliseconds(10) || value > TimeSpan.FromMinutes(10))
            {
                yield return new ValidationResult($"{name} must be 10 ms to 10 min.", [name]);
            }
        }
    }
}
