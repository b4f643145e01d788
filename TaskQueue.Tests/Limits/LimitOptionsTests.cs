using System.ComponentModel.DataAnnotations;
using Grpc.Core;
using TaskQueue.Broker.Audit;
using TaskQueue.Broker.Grpc;
using TaskQueue.Broker.Limits;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Limits;

public sealed class LimitOptionsTests
{
    [Fact]
    public void The_defaults_are_valid() => new LimitOptions().Validate();

    [Theory]
    [InlineData(nameof(LimitOptions.MaxQueues))]
    [InlineData(nameof(LimitOptions.MaxWaits))]
    [InlineData(nameof(LimitOptions.MaxWaitsPerConnection))]
    [InlineData(nameof(LimitOptions.MaxWorkerConcurrency))]
    [InlineData(nameof(LimitOptions.SubmitRate))]
    [InlineData(nameof(LimitOptions.SubmitBurst))]
    public void A_limit_of_zero_is_refused_naming_the_setting(string setting)
    {
        var options = new LimitOptions();
        typeof(LimitOptions).GetProperty(setting)!.SetValue(options, 0);

        var error = Assert.Throws<ValidationException>(options.Validate);

        Assert.Contains(setting, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_per_connection_wait_cap_above_the_total_is_refused() =>
        Assert.Throws<ValidationException>(new LimitOptions { MaxWaits = 10, MaxWaitsPerConnection = 11 }.Validate);

    [Fact]
    public void An_identity_rate_without_an_identity_or_with_a_zero_rate_is_refused()
    {
        Assert.Throws<ValidationException>(new LimitOptions { Identities = [new IdentitySubmitRate { SubmitRate = 5 }] }.Validate);
        Assert.Throws<ValidationException>(new LimitOptions { Identities = [new IdentitySubmitRate { Identity = "key:a", SubmitRate = 0 }] }.Validate);
    }

    [Fact]
    public void An_identity_without_its_own_burst_keeps_the_default_burst() =>
        Assert.Equal((5, 100_000), new LimitOptions { Identities = [new IdentitySubmitRate { Identity = "key:a", SubmitRate = 5 }] }.SubmitRateOf("key:a"));

    [Fact]
    public void The_audit_trail_keeps_ten_thousand_entries_by_default_and_refuses_none()
    {
        Assert.Equal(10_000, new AuditOptions().MaxEntries);
        Assert.Throws<ValidationException>(new AuditOptions { MaxEntries = 0 }.Validate);
    }

    [Fact]
    public void A_limit_with_a_retry_time_maps_to_resource_exhausted_with_a_retry_after_trailer_in_whole_seconds()
    {
        var mapped = ErrorMappingInterceptor.Map(new LimitExceededException("slow down", TimeSpan.FromMilliseconds(1200)))!;

        Assert.Equal((StatusCode.ResourceExhausted, "slow down"), (mapped.StatusCode, mapped.Status.Detail));
        Assert.Equal("2", mapped.Trailers.GetValue(ErrorMappingInterceptor.RetryAfterTrailer));
    }

    [Fact]
    public void A_limit_that_waiting_does_not_lift_maps_to_resource_exhausted_without_a_trailer()
    {
        var mapped = ErrorMappingInterceptor.Map(new LimitExceededException("too many queues"))!;

        Assert.Equal(StatusCode.ResourceExhausted, mapped.StatusCode);
        Assert.Empty(mapped.Trailers);
    }

    [Theory]
    [InlineData(StatusCode.PermissionDenied, "denied")]
    [InlineData(StatusCode.NotFound, "not-found")]
    [InlineData(StatusCode.FailedPrecondition, "failed-precondition")]
    [InlineData(StatusCode.Unauthenticated, "unauthenticated")]
    public void A_refused_admin_action_is_recorded_with_its_status_in_kebab_case(StatusCode code, string outcome) =>
        Assert.Equal(outcome, AuditOutcomes.Of(new RpcException(new Status(code, "no")), CancellationToken.None));

    [Fact]
    public void A_failure_that_is_not_an_rpc_exception_is_recorded_as_the_status_it_maps_to() =>
        Assert.Equal("invalid-argument", AuditOutcomes.Of(new TaskValidationException("queue", "bad"), CancellationToken.None));
}
