using System.Net;
using TaskQueue.Protocol;
using TaskQueue.Tests.Distributed;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Security;

/// <summary>The JSON endpoints: /health open, /workers and /dlq need read, /metrics too unless MetricsAccess is Open.</summary>
[Collection(DistributedCollection.Name)]
public sealed class HttpAccessTests
{
    [Fact]
    public async Task The_endpoints_answer_401_without_valid_credentials_403_without_read_and_200_with_it()
    {
        var readerKey = ApiKeys.Create();
        await using var cluster = await TaskQueueCluster.StartAsync(brokerSettings: TestCredentials.KeySettings("reader", readerKey, "read:reports-*"));
        var broker = await cluster.StartBrokerAsync();
        var callers = new (string Name, string? Key)[]
        {
            ("none", null), ("unknown key", ApiKeys.Create()), ("consume only", cluster.Credentials.WorkerKey), ("read", readerKey), ("all scopes", cluster.AdminKey),
        };
        var expected = new Dictionary<string, HttpStatusCode[]>
        {
            ["/health"] = [HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK],
            ["/workers"] = [HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden, HttpStatusCode.OK, HttpStatusCode.OK],
            ["/dlq"] = [HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden, HttpStatusCode.OK, HttpStatusCode.OK],
            ["/metrics"] = [HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden, HttpStatusCode.OK, HttpStatusCode.OK],
            // read on reports-* only: another queue's dead letters are not this caller's to see.
            [$"/dlq?queue={cluster.Queue}"] = [HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden, HttpStatusCode.Forbidden, HttpStatusCode.OK],
        };

        var answered = new List<string>();
        foreach (var (path, codes) in expected)
        {
            for (var i = 0; i < callers.Length; i++)
            {
                using var http = TestCredentials.Http(callers[i].Key);
                using var response = await http.GetAsync(new Uri(broker.HttpAddress + path));
                if (response.StatusCode != codes[i])
                {
                    answered.Add($"{path} by {callers[i].Name}: {(int)response.StatusCode}, expected {(int)codes[i]}");
                }
            }
        }

        Assert.Empty(answered);
    }

    [Fact]
    public async Task With_MetricsAccess_Open_metrics_answers_without_credentials_and_the_rest_still_needs_them()
    {
        await using var cluster = await TaskQueueCluster.StartAsync(brokerSettings: new Dictionary<string, string> { ["TaskQueue__Security__MetricsAccess"] = "Open" });
        var broker = await cluster.StartBrokerAsync();
        using var http = TestCredentials.Http(null);

        using var metrics = await http.GetAsync(new Uri(broker.HttpAddress + "/metrics"));
        using var workers = await http.GetAsync(new Uri(broker.HttpAddress + "/workers"));

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.Unauthorized), (metrics.StatusCode, workers.StatusCode));
    }
}
