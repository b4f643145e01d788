using System.Text.RegularExpressions;
using Aspire.Hosting.ApplicationModel;
using TaskQueue.Hosting;
using TaskQueue.Protocol;

namespace Aspire.Hosting;

/// <summary>Gives a service a TaskQueue's address and an API key of its own, with the scopes it needs.</summary>
public static partial class TaskQueueReferenceExtensions
{
    /// <summary>
    /// References <paramref name="taskQueue"/> with an API key for this service: <c>ConnectionStrings__{name}</c> as
    /// <c>.WithReference(taskQueue)</c> gives it, plus <c>TaskQueue__ApiKey</c>, a secret parameter
    /// <c>{taskqueue}-{service}-key</c> (generated and kept in the AppHost's user secrets unless
    /// <c>Parameters:{taskqueue}-{service}-key</c> is set). Every broker gets only the key's SHA-256 and
    /// <paramref name="scopes"/>, under the service's name (<c>TaskQueue__Security__ApiKeys__{service}__Sha256</c>,
    /// <c>..__Scopes__N</c>); the broker knows the caller as <c>key:{service}</c>. Replicas share the key.
    /// </summary>
    /// <typeparam name="TDestination">The service's resource type.</typeparam>
    /// <param name="builder">The service (a project, an executable, a container).</param>
    /// <param name="taskQueue">The TaskQueue to reach.</param>
    /// <param name="scopes">
    /// What the key may do, as <c>action:queue-pattern</c> with action submit, consume, read or admin and <c>*</c> as a
    /// wildcard in the queue name: a worker <c>["consume:*"]</c>, an API that submits and reads results
    /// <c>["submit:*", "read:*"]</c>, billing's own queues <c>["submit:billing-*"]</c>. At least one.
    /// </param>
    /// <returns>The service's resource builder.</returns>
    /// <example>
    /// <code>
    /// builder.AddProject&lt;Projects.Worker&gt;("worker").WithReference(taskQueue, scopes: ["consume:*"]).WaitFor(taskQueue);
    /// </code>
    /// </example>
    public static IResourceBuilder<TDestination> WithReference<TDestination>(
        this IResourceBuilder<TDestination> builder, IResourceBuilder<TaskQueueResource> taskQueue, IReadOnlyList<string> scopes)
        where TDestination : IResourceWithEnvironment
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(taskQueue);
        ArgumentNullException.ThrowIfNull(scopes);
        if (scopes.Count == 0)
        {
            throw new ArgumentException("A TaskQueue API key needs at least one scope (e.g. \"consume:*\").", nameof(scopes));
        }

        foreach (var scope in scopes)
        {
            if (scope is null || !ScopeShape().IsMatch(scope))
            {
                throw new ArgumentException(
                    $"'{scope}' is not a TaskQueue scope: action:queue-pattern, action one of {ScopeActions.Submit}, {ScopeActions.Consume}, {ScopeActions.Read}, {ScopeActions.Admin} (e.g. \"consume:*\").",
                    nameof(scopes));
            }
        }

        var service = builder.Resource.Name;
        if (service == AdminKeyName(taskQueue.Resource.Name))
        {
            throw new ArgumentException($"'{service}' is the name of the TaskQueue's operator key; give the service another name.", nameof(builder));
        }

        var parameterName = $"{taskQueue.Resource.Name}-{service}-key";
        var key = builder.ApplicationBuilder.Resources.OfType<ParameterResource>().FirstOrDefault(p => p.Name == parameterName)
                  ?? builder.ApplicationBuilder.AddParameter(parameterName, Secrets.Generated(), secret: true, persist: true).Resource;
        taskQueue.Resource.SetKey(service, key, [.. scopes]);

        return builder
            .WithReference(taskQueue)
            .WithEnvironment("TaskQueue__ApiKey", builder.ApplicationBuilder.CreateResourceBuilder(key));
    }

    /// <summary>The broker's name for a TaskQueue's operator key.</summary>
    internal static string AdminKeyName(string taskQueueName) => $"{taskQueueName}-admin";

    [GeneratedRegex("^(submit|consume|read|admin):[^\\s:]+$")]
    private static partial Regex ScopeShape();
}
