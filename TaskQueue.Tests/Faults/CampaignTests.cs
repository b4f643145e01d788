using TaskQueue.Tests.Distributed;
using TaskQueue.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TaskQueue.Tests.Faults;

/// <summary>
/// The soak: scenarios 1, 3, 6 and 8 mixed under a steady load — workers killed, workers frozen past their lease,
/// brokers killed and restarted, Redis frozen — for <see cref="FaultSettings.SoakDuration"/> (12 s in CI;
/// scripts/soak.sh runs it for as long as asked).
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class CampaignTests(FaultReport report, ITestOutputHelper output)
{
    private const int Concurrency = 4;

    [Fact]
    public async Task A_mixed_campaign_of_worker_kills_zombies_broker_kills_and_redis_outages_loses_nothing()
    {
        var duration = FaultSettings.SoakDuration;
        var profile = Profile.For(duration);
        await using var run = await FaultRun.StartAsync(
            $"soak: worker kills, zombies, broker kills, Redis outages for {duration}",
            report,
            output,
            new()
            {
                Lease = profile.Lease,
                Brokers = 2,
                OwnRedis = [],
            });
        // Workers know both brokers (service discovery, as under the AppHost) and move to the live one.
        var anyBroker = new Dictionary<string, string>
        {
            ["Worker__BrokerAddress"] = "http://_grpc.broker",
            ["services__broker__grpc__0"] = run.Cluster.Brokers[0].GrpcAddress,
            ["services__broker__grpc__1"] = run.Cluster.Brokers[1].GrpcAddress,
        };
        await run.WaitForWorkersAsync([.. Enumerable.Range(0, 4).Select(_ => run.StartWorker("w", Concurrency, settings: anyBroker))]);

        var campaign = new Campaign(run, profile, anyBroker);
        var load = run.Load.RunAsync(() => WorkerFaultTests.Sleep(run, 100, 600), profile.PerSecond, duration);
        await FaultRun.RepeatWhileAsync(load, profile.Interval, campaign.InjectNextAsync);
        await campaign.RecoveredAsync();
        var bound = (campaign.WorkerKills + campaign.Zombies) * Concurrency;
        run.Note("duplicate bound: (worker kills + zombies) × concurrency", bound);
        // Zombies (silent while their leases run out) and Redis outages no longer quarantine anyone; a long soak still
        // shows a few quarantines under reconnect churn (README, "Figures"), so this is reported, not asserted.
        run.Note("workers ever quarantined", (await run.WorkersAsync()).Count(w => w.QuarantinedUntil is not null));
        var ledger = await run.SettleAsync(TimeSpan.FromSeconds(120));

        run.Verify(ledger, () =>
        {
            Assert.All(
                [("worker kill", campaign.WorkerKills), ("Redis outage", campaign.RedisOutages), ("zombie", campaign.Zombies), ("broker kill", campaign.BrokerKills)],
                kind => Assert.True(kind.Item2 > 0, $"no {kind.Item1} happened"));
            Assert.Equal(0, ledger.Lost);
            Assert.Equal(0, ledger.DeadLettered);
            Assert.Equal(ledger.Acknowledged + ledger.StoredThoughRefused, ledger.Completed);
            Assert.Equal(0, ledger.DuplicateCompletionsRecorded);
            Assert.All(ledger.Refused.Keys, code => Assert.Equal("UNAVAILABLE", code));
            // A stall of the whole machine past a renewal may expire every healthy lease as well.
            Assert.InRange(ledger.DuplicateExecutions, 0, bound + (run.LeaseBreakingStalls * run.Workers.Count * Concurrency));
        });
    }

    /// <summary>
    /// Timings of a run: CI's 12 s need short leases for a zombie's tasks to move on in time; a long soak uses
    /// realistic ones, with Redis outages of 10 s (always shorter than a lease).
    /// </summary>
    private sealed record Profile(TimeSpan Lease, TimeSpan Interval, TimeSpan Outage, TimeSpan BrokerDown, double PerSecond)
    {
        /// <summary>Past the lease and the broker's silence limit (one lease), with room to redispatch.</summary>
        public TimeSpan Freeze => (Lease * 1.5) + TimeSpan.FromSeconds(3);

        public static Profile For(TimeSpan duration) => duration < TimeSpan.FromMinutes(2)
            ? new(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(2.5), TimeSpan.FromSeconds(1), PerSecond: 15)
            : new(TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(3), PerSecond: 20);
    }

    /// <summary>The faults in turn; a fault still playing out (a frozen worker, a broker down, Redis frozen) is not stacked on itself.</summary>
    private sealed class Campaign(FaultRun run, Profile profile, IReadOnlyDictionary<string, string> workerSettings)
    {
        private readonly List<Task> _recoveries = [];
        private readonly HashSet<FaultWorker> _frozen = [];
        private Task _zombie = Task.CompletedTask;
        private Task _brokerRestart = Task.CompletedTask;
        private Task _redisOutage = Task.CompletedTask;
        private int _turn;

        public int WorkerKills { get; private set; }

        public int Zombies { get; private set; }

        public int BrokerKills { get; private set; }

        public int RedisOutages { get; private set; }

        /// <summary>The next kind of fault; one that cannot happen now (nothing running, a fault still playing out) is tried again next time.</summary>
        public async Task InjectNextAsync()
        {
            var injected = (_turn % 4) switch
            {
                0 => KillWorker(),
                1 => Freeze(),
                2 => await KillBrokerAsync(),
                _ => PauseRedis(),
            };
            if (injected)
            {
                _turn++;
            }
        }

        /// <summary>Waits until every fault has played out: zombies thawed, brokers back, Redis answering.</summary>
        public Task RecoveredAsync() => Task.WhenAll(_recoveries).WaitAsync(profile.Freeze + TimeSpan.FromSeconds(90));

        private bool KillWorker()
        {
            lock (_frozen)
            {
                if (run.BusyWorker(w => !_frozen.Contains(w)) is not { } victim)
                {
                    return false;
                }

                run.KillWorker(victim);
                WorkerKills++;
                run.StartWorker("w", Concurrency, settings: workerSettings);
                return true;
            }
        }

        private bool Freeze()
        {
            FaultWorker? victim;
            lock (_frozen)
            {
                victim = _zombie.IsCompleted ? run.BusyWorker(w => !_frozen.Contains(w)) : null;
                if (victim is null)
                {
                    return false;
                }

                _frozen.Add(victim);
            }

            run.FreezeWorker(victim);
            Zombies++;
            _zombie = Track(async () =>
            {
                await Task.Delay(profile.Freeze);
                victim.Process.Thaw();
                lock (_frozen)
                {
                    _frozen.Remove(victim);
                }
            });
            return true;
        }

        private async Task<bool> KillBrokerAsync()
        {
            if (!_brokerRestart.IsCompleted)
            {
                return false;
            }

            // The broker most workers are connected to: theirs is the failover that matters.
            var busiest = await BusiestBrokerAsync();
            var fault = run.Inject("broker SIGKILL");
            busiest.Process.Kill();
            BrokerKills++;
            _brokerRestart = Track(async () =>
            {
                await busiest.Process.WaitForExitAsync(TimeSpan.FromSeconds(10));
                await Task.Delay(profile.BrokerDown);
                await run.Cluster.StartBrokerAsync(restartOf: busiest);
                FaultRun.Ended(fault);
            });
            return true;
        }

        private bool PauseRedis()
        {
            // A broker may be restarting meanwhile: it waits for Redis like any broker starting up.
            if (!_redisOutage.IsCompleted)
            {
                return false;
            }

            RedisOutages++;
            _redisOutage = Track(() => run.PauseRedisAsync(profile.Outage));
            return true;
        }

        private async Task<TaskQueueCluster.Broker> BusiestBrokerAsync()
        {
            var workers = await run.WorkersAsync();
            return run.Cluster.Brokers.OrderByDescending(b => workers.Count(w => w.Broker == FaultRun.BrokerId(b))).First();
        }

        private Task Track(Func<Task> recovery)
        {
            var task = recovery();
            _recoveries.Add(task);
            return task;
        }
    }
}
