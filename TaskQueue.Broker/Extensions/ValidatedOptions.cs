using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace TaskQueue.Broker.Extensions;

/// <summary>
/// The one way the broker's options are checked: each options class states its rules in its own
/// <c>Validate()</c> (range attributes and the rules between settings), and start-up runs it
/// (<c>ValidateOnStart</c>), failing with an <see cref="OptionsValidationException"/> that names the setting.
/// </summary>
internal static class ValidatedOptions
{
    /// <summary>Binds <typeparamref name="TOptions"/> to the configuration section and checks it with <paramref name="validate"/> at start-up.</summary>
    public static OptionsBuilder<TOptions> AddValidatedOptions<TOptions>(this IServiceCollection services, string sectionName, Action<TOptions> validate)
        where TOptions : class
    {
        services.AddSingleton<IValidateOptions<TOptions>>(new Rules<TOptions>(validate));
        return services.AddOptions<TOptions>().BindConfiguration(sectionName).ValidateOnStart();
    }

    private sealed class Rules<TOptions>(Action<TOptions> validate) : IValidateOptions<TOptions>
        where TOptions : class
    {
        public ValidateOptionsResult Validate(string? name, TOptions options)
        {
            try
            {
                validate(options);
                return ValidateOptionsResult.Success;
            }
            catch (Exception ex) when (ex is ValidationException or ArgumentException)
            {
                return ValidateOptionsResult.Fail($"{typeof(TOptions).Name}: {ex.Message}");
            }
        }
    }
}
