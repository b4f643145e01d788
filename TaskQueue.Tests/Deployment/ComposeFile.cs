using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace TaskQueue.Tests.Deployment;

/// <summary>
/// The repository's docker-compose.yml, read the way compose reads it for what these tests need:
/// services, their environment (in map or list form), command, replicas, dependencies, health check,
/// ports, volumes. Variables resolve as compose resolves them with an empty shell environment and the .env file
/// scripts/compose-env.sh writes (<see cref="DotEnv"/>): a secret from that file, else <c>${NAME:-default}</c>'s default.
/// </summary>
internal sealed partial class ComposeFile
{
    public const string FileName = "docker-compose.yml";

    /// <summary>The script that writes the .env file with the secrets.</summary>
    public const string DotEnvScript = "scripts/compose-env.sh";

    private static readonly Lazy<IReadOnlyDictionary<string, string>> s_dotEnv = new(WriteDotEnv);

    private ComposeFile(string path, YamlMappingNode root)
    {
        Path = path;
        Services = Mapping(root, "services")?.Children
                       .ToDictionary(pair => Scalar(pair.Key), pair => ParseService(Scalar(pair.Key), (YamlMappingNode)pair.Value), StringComparer.Ordinal)
                   ?? throw new InvalidDataException($"{path} has no services.");
        Volumes = Mapping(root, "volumes")?.Children.Keys.Select(Scalar).ToHashSet(StringComparer.Ordinal) ?? [];
    }

    public string Path { get; }

    public IReadOnlyDictionary<string, ComposeService> Services { get; }

    /// <summary>Named volumes declared at the top level.</summary>
    public IReadOnlySet<string> Volumes { get; }

    public ComposeService this[string service] =>
        Services.TryGetValue(service, out var found) ? found : throw new KeyNotFoundException($"{FileName} has no service '{service}'.");

    /// <summary>The repository root: the folder above the test output that holds TaskQueue.sln.</summary>
    public static string RepositoryRoot
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(System.IO.Path.Combine(directory.FullName, "TaskQueue.sln")))
            {
                directory = directory.Parent;
            }

            return directory?.FullName ?? throw new InvalidOperationException("TaskQueue.sln not found above the test output.");
        }
    }

    public static ComposeFile Load()
    {
        var path = System.IO.Path.Combine(RepositoryRoot, FileName);
        var stream = new YamlStream();
        using (var reader = new StreamReader(path))
        {
            stream.Load(reader);
        }

        return new ComposeFile(path, (YamlMappingNode)stream.Documents[0].RootNode);
    }

    /// <summary>Every <c>${...}</c> in the file, as written.</summary>
    public static IReadOnlyList<string> Interpolations() =>
        [.. InterpolationPattern().Matches(File.ReadAllText(System.IO.Path.Combine(RepositoryRoot, FileName))).Select(m => m.Value)];

    /// <summary>
    /// The variables of a .env file written by <see cref="DotEnvScript"/> (once per test run, into a temporary file): new
    /// random secrets, as a user gets them.
    /// </summary>
    public static IReadOnlyDictionary<string, string> DotEnv => s_dotEnv.Value;

    /// <summary>
    /// Resolves a variable from <see cref="DotEnv"/> when it is set there; else <c>${NAME:-default}</c> and
    /// <c>${NAME-default}</c> to the default, <c>${NAME}</c> to empty, <c>$$</c> to <c>$</c>; <c>${NAME:?message}</c> fails.
    /// </summary>
    public static string Interpolate(string value) =>
        InterpolationPattern().Replace(value, match =>
        {
            if (match.Value == "$$")
            {
                return "$";
            }

            var name = match.Groups["name"].Value;
            if (DotEnv.TryGetValue(name, out var set) && set.Length > 0)
            {
                return set;
            }

            return match.Groups["op"].Value.EndsWith('?')
                ? throw new InvalidDataException($"{FileName} requires {name}: {match.Groups["arg"].Value}")
                : match.Groups["arg"].Value;
        });

    /// <summary>Parses KEY=VALUE lines (comments and blank lines skipped), as compose reads .env.</summary>
    public static Dictionary<string, string> ParseDotEnv(string text) =>
        text.Split('\n')
            .Select(line => line.Trim())
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Select(line => line.Split('=', 2))
            .ToDictionary(pair => pair[0], pair => pair.Length > 1 ? pair[1] : "", StringComparer.Ordinal);

    /// <summary>Compose durations: 45s, 1m30s, 500ms, 2h.</summary>
    public static TimeSpan ParseDuration(string value)
    {
        var total = TimeSpan.Zero;
        var matches = DurationPattern().Matches(value);
        if (matches.Count == 0 || string.Concat(matches.Select(m => m.Value)) != value)
        {
            throw new FormatException($"'{value}' is not a compose duration.");
        }

        foreach (Match match in matches)
        {
            var amount = double.Parse(match.Groups["amount"].Value, CultureInfo.InvariantCulture);
            total += match.Groups["unit"].Value switch
            {
                "h" => TimeSpan.FromHours(amount),
                "m" => TimeSpan.FromMinutes(amount),
                "s" => TimeSpan.FromSeconds(amount),
                "ms" => TimeSpan.FromMilliseconds(amount),
                "us" => TimeSpan.FromMicroseconds(amount),
                _ => throw new FormatException(value),
            };
        }

        return total;
    }

    private static IReadOnlyDictionary<string, string> WriteDotEnv()
    {
        var path = System.IO.Path.Combine(Directory.CreateTempSubdirectory("taskqueue-compose-env-").FullName, ".env");
        var info = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(System.IO.Path.Combine(RepositoryRoot, DotEnvScript));
        info.ArgumentList.Add(path);
        using (var script = System.Diagnostics.Process.Start(info)!)
        {
            var error = script.StandardError.ReadToEndAsync();
            _ = script.StandardOutput.ReadToEndAsync();
            if (!script.WaitForExit(TimeSpan.FromSeconds(30)) || script.ExitCode != 0)
            {
                throw new InvalidOperationException($"{DotEnvScript} failed: {error.Result}");
            }
        }

        try
        {
            return ParseDotEnv(File.ReadAllText(path));
        }
        finally
        {
            Directory.Delete(System.IO.Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    private static ComposeService ParseService(string name, YamlMappingNode node)
    {
        var build = node.Children.TryGetValue(new YamlScalarNode("build"), out var buildNode) ? buildNode : null;
        var deploy = Mapping(node, "deploy");
        var replicas = deploy is not null && Value(deploy, "replicas") is { } fromDeploy ? fromDeploy
            : Value(node, "scale") is { } fromScale ? fromScale
            : "1";
        var healthCheck = Mapping(node, "healthcheck");

        return new ComposeService(
            name,
            Image: Value(node, "image"),
            BuildContext: build switch
            {
                YamlScalarNode context => Interpolate(context.Value ?? ""),
                YamlMappingNode map => Value(map, "context"),
                _ => null,
            },
            Dockerfile: build is YamlMappingNode buildMap ? Value(buildMap, "dockerfile") ?? "Dockerfile" : build is null ? null : "Dockerfile",
            Environment: ParseEnvironment(node),
            Command: Strings(node, "command"),
            Profiles: Strings(node, "profiles"),
            Replicas: int.Parse(replicas, CultureInfo.InvariantCulture),
            DependsOn: ParseDependsOn(node),
            HealthCheck: healthCheck is null ? [] : Strings(healthCheck, "test"),
            Ports: Strings(node, "ports"),
            VolumeMounts: Strings(node, "volumes"),
            Restart: Value(node, "restart"),
            StopGracePeriod: Value(node, "stop_grace_period") is { } grace ? ParseDuration(grace) : null);
    }

    private static Dictionary<string, string> ParseEnvironment(YamlMappingNode service)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        switch (service.Children.TryGetValue(new YamlScalarNode("environment"), out var node) ? node : null)
        {
            case YamlMappingNode map:
                foreach (var (key, value) in map.Children)
                {
                    environment.Add(Scalar(key), Interpolate(Scalar(value)));
                }

                break;
            case YamlSequenceNode list:
                foreach (var item in list.Children.Select(Scalar))
                {
                    var separator = item.IndexOf('=', StringComparison.Ordinal);
                    environment.Add(separator < 0 ? item : item[..separator], separator < 0 ? "" : Interpolate(item[(separator + 1)..]));
                }

                break;
        }

        return environment;
    }

    private static Dictionary<string, string> ParseDependsOn(YamlMappingNode service)
    {
        var dependsOn = new Dictionary<string, string>(StringComparer.Ordinal);
        switch (service.Children.TryGetValue(new YamlScalarNode("depends_on"), out var node) ? node : null)
        {
            case YamlMappingNode map:
                foreach (var (key, value) in map.Children)
                {
                    dependsOn.Add(Scalar(key), Value((YamlMappingNode)value, "condition") ?? "service_started");
                }

                break;
            case YamlSequenceNode list:
                foreach (var item in list.Children.Select(Scalar))
                {
                    dependsOn.Add(item, "service_started");
                }

                break;
        }

        return dependsOn;
    }

    private static YamlMappingNode? Mapping(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var child) ? child as YamlMappingNode : null;

    private static string? Value(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var child) && child is YamlScalarNode scalar ? Interpolate(scalar.Value ?? "") : null;

    /// <summary>A list, or a single string (a shell-form command) as a one-item list.</summary>
    private static List<string> Strings(YamlMappingNode node, string key) =>
        (node.Children.TryGetValue(new YamlScalarNode(key), out var child) ? child : null) switch
        {
            YamlSequenceNode list => [.. list.Children.Select(item => Interpolate(Scalar(item)))],
            YamlScalarNode scalar => [Interpolate(scalar.Value ?? "")],
            _ => [],
        };

    private static string Scalar(YamlNode node) =>
        node is YamlScalarNode scalar ? scalar.Value ?? "" : throw new InvalidDataException($"Expected a plain value at {node.Start}.");

    [GeneratedRegex(@"\$\$|\$\{(?<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?<op>:?[-?])(?<arg>[^}]*))?\}")]
    private static partial Regex InterpolationPattern();

    [GeneratedRegex(@"(?<amount>\d+(?:\.\d+)?)(?<unit>ms|us|h|m|s)")]
    private static partial Regex DurationPattern();
}

/// <summary>One service of the compose file.</summary>
internal sealed record ComposeService(
    string Name,
    string? Image,
    string? BuildContext,
    string? Dockerfile,
    IReadOnlyDictionary<string, string> Environment,
    IReadOnlyList<string> Command,
    IReadOnlyList<string> Profiles,
    int Replicas,
    IReadOnlyDictionary<string, string> DependsOn,
    IReadOnlyList<string> HealthCheck,
    IReadOnlyList<string> Ports,
    IReadOnlyList<string> VolumeMounts,
    string? Restart,
    TimeSpan? StopGracePeriod)
{
    /// <summary>Container ports published to the host ("8080:8080" → 8080; "127.0.0.1:80:8080/tcp" → 8080).</summary>
    public IEnumerable<int> PublishedContainerPorts =>
        Ports.Select(port => int.Parse(port.Split('/')[0].Split(':')[^1], CultureInfo.InvariantCulture));

    public string Get(string key) =>
        Environment.TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"Service '{Name}' does not set {key}.");
}
