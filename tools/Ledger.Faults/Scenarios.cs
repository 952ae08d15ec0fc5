using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Confluent.Kafka;

namespace Ledger.Faults;

/// <summary>One line of the harness's table.</summary>
public sealed record Outcome(string Fault, string Load, string DuringTheFault, string After, long Lost, long Doubled, string Verify, bool Passed, string? Why = null)
{
    public int Round { get; init; }
}

/// <summary>
/// The faults. Each one runs load through the public API (or the usage topic), injects the fault
/// into a real process, lets the ledger recover on its own, and then counts what PostgreSQL holds
/// against what was acknowledged and runs verify.
/// </summary>
public sealed class Scenarios(HarnessSettings settings, Service service, Postgres postgres, Func<Api> api, Func<Api> verifier, Func<string, Api> apiAt)
{
    private int Scale => settings.Long ? 4 : 1;
    private readonly string _run = Guid.NewGuid().ToString("N")[..6];
    private readonly List<string> _customers = [];
    private int _invocation;

    /// <summary>Ids unique to one run of one fault: a later round must not meet its own earlier ids as duplicates.</summary>
    private string Fresh(string tag) => $"{tag}{_run}{Interlocked.Increment(ref _invocation)}-";

    private static string Now() => DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    public async Task SetUpAsync()
    {
        var client = api();
        await client.MustAsync(HttpMethod.Put, $"/v1/plans/f-{_run}", """
            { "currency": "INR", "meters": { "otp.sms": { "model": "flat", "unitPrice": "0.20" }, "otp.whatsapp": { "model": "flat", "unitPrice": "0.115" } } }
            """);
        for (var i = 0; i < 20; i++)
        {
            var customer = $"f{_run}-{i:D2}";
            await client.MustAsync(HttpMethod.Put, $"/v1/customers/{customer}",
                $$"""{ "name": "{{customer}}", "planId": "f-{{_run}}", "currency": "INR", "creditLimit": "0.00", "lowBalanceThreshold": "0.00" }""");
            await client.MustAsync(HttpMethod.Post, $"/v1/wallets/{customer}/top-ups", """{ "id": "seed", "amount": "1000000.00" }""");
            _customers.Add(customer);
        }
    }

    private string Batch(string prefix, int size, Random random)
    {
        var body = new StringBuilder("{\"events\":[");
        for (var i = 0; i < size; i++)
        {
            if (i > 0) body.Append(',');
            body.Append("{\"id\":\"").Append(prefix).Append('-').Append(i).Append("\",\"customerId\":\"").Append(_customers[random.Next(_customers.Count)])
                .Append("\",\"meter\":\"otp.sms\",\"quantity\":\"1\",\"occurredAt\":\"").Append(Now()).Append("\"}");
        }

        return body.Append("]}").ToString();
    }

    /// <summary>Verify over the API: every chain intact, every wallet and invoice equal to a replay, every account equal to its fold.</summary>
    public async Task<string> VerifyAsync()
    {
        // The whole ledger: every chain, and every customer's documents replayed; it grows with the run.
        var clock = Stopwatch.StartNew();
        var result = await verifier().MustAsync(HttpMethod.Post, "/v1/audit/verify");
        return result!["ok"]!.GetValue<bool>()
            ? $"ok ({result["eventsChecked"]!.GetValue<long>():N0} events, {clock.Elapsed.TotalSeconds:0.0} s)"
            : "FAILED: " + string.Join("; ", result["mismatches"]!.AsArray().Take(3).Select(m => m!.ToJsonString()));
    }

    /// <summary>
    /// Three nodes on one database, every role on each, the async daemon HotCold: usage flows
    /// through one node while the node running the daemon's usage-rollups agent is SIGKILLed. Another
    /// node must take the agent over (measured: from the kill to its first progress), and once the
    /// load stops the rollups must hold every unit once (the sum against the events) and equal a
    /// fresh replay (verify mode).
    /// </summary>
    public Task<Outcome> DaemonFailoverAsync() => WithNodesAsync(3, async nodes =>
    {
        const string Shard = "UsageRollups";
        {
            async Task<JsonNode> Rollups(Service via) =>
                (await apiAt(via.Url).MustAsync(HttpMethod.Get, "/v1/admin/projections"))!["items"]!.AsArray().Single(i => i!["name"]!.GetValue<string>() == Shard)!;

            var clock = Stopwatch.StartNew();
            string? holder = null;
            while (clock.Elapsed < TimeSpan.FromSeconds(60) && (holder = (string?)(await Rollups(nodes[0]))["node"]) is null) await Task.Delay(200);
            var running = nodes.SingleOrDefault(n => n.Name == holder)
                          ?? throw new InvalidOperationException($"No node took the {Shard} agent within 60 s (holder: {holder ?? "none"}).");
            var survivor = nodes.First(n => n != running);

            // Usage through a node that stays, for the whole fault.
            var prefix = Fresh("d");
            var stop = false;
            long sent = 0;
            var load = Task.Run(async () =>
            {
                var client = apiAt(survivor.Url);
                var random = new Random(11);
                for (var b = 0; !Volatile.Read(ref stop); b++)
                {
                    var answer = await client.SendAsync(HttpMethod.Post, "/v1/usage", Batch($"{prefix}{b}", 100, random));
                    if (answer is { Status: HttpStatusCode.OK } a) Interlocked.Add(ref sent, a.Body!["accepted"]!.GetValue<int>());
                }
            });

            await Task.Delay(TimeSpan.FromSeconds(3 * Scale));
            running.Kill();
            var takeover = Stopwatch.StartNew();
            // Read once the node is gone: whatever it committed is in, so progress past this is another node's.
            var atKill = (await Rollups(survivor))["position"]!.GetValue<long>();
            JsonNode now;
            while (true)
            {
                now = await Rollups(survivor);
                var node = (string?)now["node"];
                if (node is not null && node != holder && now["position"]!.GetValue<long>() > atKill) break;
                if (takeover.Elapsed > TimeSpan.FromSeconds(120)) throw new TimeoutException($"No node took over the {Shard} agent within 120 s: {now.ToJsonString()}");
                await Task.Delay(100);
            }

            var tookOver = takeover.Elapsed;
            var newHolder = (string)now["node"]!;
            await Task.Delay(TimeSpan.FromSeconds(2 * Scale));
            Volatile.Write(ref stop, true);
            await load;

            // Caught up: then every unit once in the rollups, and the rollups equal to a fresh replay.
            var caughtUp = Stopwatch.StartNew();
            while ((now = await Rollups(survivor))["lag"]!.GetValue<long>() > 0 && caughtUp.Elapsed < TimeSpan.FromSeconds(120)) await Task.Delay(200);
            var (events, rolledUp) = await Stored.UsageUnitsAsync(settings.Database);
            var verifyClient = apiAt(survivor.Url);
            var rebuild = await verifyClient.MustAsync(HttpMethod.Post, $"/v1/admin/projections/{Shard}/rebuild?mode=verify");
            var location = $"/v1/admin/projections/{Shard}/rebuilds/{rebuild!["id"]!.GetValue<string>()}";
            while (rebuild!["status"]!.GetValue<string>() == "running")
            {
                await Task.Delay(200);
                rebuild = await verifyClient.MustAsync(HttpMethod.Get, location);
            }

            var differences = rebuild["differenceCount"]?.GetValue<long>() ?? -1;
            var passed = now["lag"]!.GetValue<long>() == 0 && events == rolledUp && rebuild["status"]!.GetValue<string>() == "completed" && differences == 0;
            return new Outcome("SIGKILL of the node running the async daemon (3 nodes, HotCold)",
                $"3 nodes; 100-event batches through {survivor.Name} for {5 * Scale} s",
                $"{holder} killed at position {atKill:N0}; {newHolder} took over and progressed {tookOver.TotalSeconds:0.0} s later",
                $"caught up; {rolledUp:N0} units rolled up for {events:N0} in the events; replay differences: {differences}",
                (long)Math.Max(events - rolledUp, 0), (long)Math.Max(rolledUp - events, 0), $"{Interlocked.Read(ref sent):N0} events sent", passed);
        }
    });

    /// <summary>
    /// Two nodes (Wolverine's durability Balanced): the broker is frozen while one node commits
    /// top-ups, so their integration events wait in that node's outbox; the node is SIGKILLed and the
    /// broker thawed. The other node must find the dead node's envelopes and send every one
    /// (measured: from the kill to the last delivery).
    /// </summary>
    public Task<Outcome> RelayFailoverAsync() => WithNodesAsync(2, async nodes =>
    {
        var prefix = Fresh("r");
        var topUps = 20 * Scale;
        var client = apiAt(nodes[0].Url);
        var answered = 0;
        Signal("STOP", settings.KafkaPid);
        Stopwatch sinceKill;
        try
        {
            for (var i = 0; i < topUps; i++)
            {
                var answer = await client.SendAsync(HttpMethod.Post, $"/v1/wallets/{_customers[i % _customers.Count]}/top-ups", $$"""{ "id": "{{prefix}}{{i}}", "amount": "1.00" }""");
                if (answer is { Status: HttpStatusCode.Created }) answered++;
            }

            nodes[0].Kill();
            sinceKill = Stopwatch.StartNew();
        }
        finally
        {
            Signal("CONT", settings.KafkaPid);
        }

        // The dead node's envelopes were in the outbox when it died, and the other node sent them: they
        // are gone once delivered. (Without this, produce requests the dead node left in the frozen
        // broker's socket buffer could be what arrives.)
        var heldAtKill = await Stored.OutboxAsync(settings.Database);
        var (seen, lastAt) = ToppedUpDelivered(prefix, topUps, TimeSpan.FromSeconds(180), sinceKill);
        var leftInOutbox = await Stored.OutboxAsync(settings.Database);
        var (rows, distinct) = await Stored.TopUpsAsync(settings.Database, prefix);
        var delivered = seen.Count;
        return new Outcome("SIGKILL of a node holding unsent integration events (2 nodes, broker frozen meanwhile)", $"{topUps} top-ups through {nodes[0].Name}",
            $"{answered} of {topUps} answered 201; {nodes[0].Name} killed with the broker frozen ({heldAtKill} envelopes in the outbox), then the broker thawed",
            $"{delivered} of {topUps} topped_up events delivered by {nodes[1].Name}, the last {lastAt.TotalSeconds:0.0} s after the kill " +
            $"({seen.Values.Count(v => v > 1)} more than once); {leftInOutbox} envelopes left in the outbox",
            topUps - delivered, rows - distinct, "not run (verify runs after every other fault)",
            answered == topUps && heldAtKill >= topUps && delivered == topUps && leftInOutbox == 0 && distinct == topUps && rows == distinct);
    });

    /// <summary>The harness's service stops, and <paramref name="count"/> nodes on the same database run the fault; then the service comes back.</summary>
    private async Task<Outcome> WithNodesAsync(int count, Func<List<Service>, Task<Outcome>> fault)
    {
        service.Kill();
        var nodes = Enumerable.Range(1, count).Select(i => new Service(settings, Service.FreePort(), new Dictionary<string, string>
        {
            ["Ledger__Durability"] = "Balanced", ["Ledger__Daemon"] = "HotCold", ["Ledger__NodeName"] = $"faults-node-{i}",
        })).ToList();
        try
        {
            foreach (var node in nodes) await node.StartAsync();
            return await fault(nodes);
        }
        finally
        {
            foreach (var node in nodes) node.Kill();
            await service.StartAsync();
        }
    }

    /// <summary>The ledger.wallet.topped_up events with ids starting with the prefix read from the topic (count per id), and when the last new one came.</summary>
    private (Dictionary<string, int> Seen, TimeSpan LastAt) ToppedUpDelivered(string prefix, int expected, TimeSpan limit, Stopwatch clock)
    {
        var seen = new Dictionary<string, int>();
        var lastAt = TimeSpan.Zero;
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = settings.Kafka, GroupId = "faults-" + Guid.NewGuid().ToString("N"), AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
        consumer.Subscribe("ledger.events.v1");
        var deadline = clock.Elapsed + limit;
        while (seen.Count < expected && clock.Elapsed < deadline)
        {
            var record = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (record?.Message?.Value is not { } value) continue;
            var id = JsonNode.Parse(value)?["data"]?["topUpId"]?.GetValue<string>();
            if (id is null || !id.StartsWith(prefix, StringComparison.Ordinal)) continue;
            if (!seen.ContainsKey(id)) lastAt = clock.Elapsed;
            seen[id] = seen.GetValueOrDefault(id) + 1;
        }

        // A little longer: a second copy of one already seen would show up here.
        var extra = Stopwatch.StartNew();
        while (extra.Elapsed < TimeSpan.FromSeconds(2))
        {
            var record = consumer.Consume(TimeSpan.FromMilliseconds(200));
            var id = record?.Message?.Value is { } value ? JsonNode.Parse(value)?["data"]?["topUpId"]?.GetValue<string>() : null;
            if (id is not null && id.StartsWith(prefix, StringComparison.Ordinal)) seen[id] = seen.GetValueOrDefault(id) + 1;
        }

        consumer.Close();
        return (seen, lastAt);
    }

    /// <summary>Several HTTP clients send usage; the service is SIGKILLed; every batch is sent again after the restart.</summary>
    public async Task<Outcome> KillDuringHttpIngestionAsync()
    {
        var prefix = Fresh("h");
        const int clients = 6, size = 50;
        var batches = new ConcurrentBag<(string Body, int Size, bool Acked)>();
        var stop = false;
        var load = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            var client = api();
            var random = new Random(c);
            for (var b = 0; !Volatile.Read(ref stop); b++)
            {
                var body = Batch($"{prefix}{c}-{b}", size, random);
                var answer = await client.SendAsync(HttpMethod.Post, "/v1/usage", body);
                var acked = answer is { Status: HttpStatusCode.OK } a && a.Body?["accepted"]?.GetValue<int>() == size;
                batches.Add((body, size, acked));
                if (answer is null) return; // the service is gone: this client stops, its last batch unanswered
            }
        })).ToList();

        await Task.Delay(TimeSpan.FromSeconds(2 * Scale));
        service.Kill();
        await Task.WhenAll(load);
        Volatile.Write(ref stop, true);
        var restart = Stopwatch.StartNew();
        await service.StartAsync();
        var ready = restart.Elapsed;

        // Every batch again: an acknowledged one must come back all duplicates; an unanswered one all
        // accepted or all duplicates, never part of it.
        var client = api();
        long partial = 0, ackedLost = 0;
        foreach (var (body, size2, acked) in batches)
        {
            var again = await client.MustAsync(HttpMethod.Post, "/v1/usage", body);
            var (accepted, duplicates) = (again!["accepted"]!.GetValue<int>(), again["duplicates"]!.GetValue<int>());
            if (acked && duplicates != size2) ackedLost += size2 - duplicates;
            if (!acked && accepted != 0 && accepted != size2) partial++;
        }

        var sent = batches.Sum(b => (long)b.Size);
        var (rows, distinct) = await Stored.UsageAsync(settings.Database, prefix);
        var verify = await VerifyAsync();
        var ackedCount = batches.Count(b => b.Acked);
        var passed = ackedLost == 0 && partial == 0 && rows == sent && distinct == sent && verify.StartsWith("ok");
        return new Outcome("SIGKILL of the service during HTTP ingestion, every batch resent",
            $"{clients} clients × {size}-event batches for {2 * Scale} s",
            $"{ackedCount} batches acknowledged, {batches.Count - ackedCount} unanswered; {partial} partly stored",
            $"ready {ready.TotalSeconds:0.0} s after restart; resent: acknowledged all duplicates, unanswered all-or-nothing; {distinct:N0} of {sent:N0} events stored",
            sent - distinct + ackedLost, rows - distinct, verify, passed);
    }

    /// <summary>Usage produced to the topic; the consuming node SIGKILLed mid-way and started again.</summary>
    public async Task<Outcome> KillDuringKafkaConsumptionAsync()
    {
        var prefix = Fresh("k");
        var records = 10_000 * Scale;
        var random = new Random(7);
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = settings.Kafka, LingerMs = 5 }).Build())
        {
            for (var i = 0; i < records; i++)
            {
                var customer = _customers[random.Next(_customers.Count)];
                producer.Produce("ledger.usage.v1", new Message<string, string>
                {
                    Key = customer,
                    Value = $$"""{"id":"{{prefix}}{{i}}","customerId":"{{customer}}","meter":"otp.whatsapp","quantity":"1","occurredAt":"{{Now()}}"}""",
                });
                if (i % 10_000 == 0) producer.Poll(TimeSpan.Zero);
            }

            producer.Flush(TimeSpan.FromSeconds(30));
        }

        // Kill once part of it is recorded.
        var clock = Stopwatch.StartNew();
        long before;
        while ((before = (await Stored.UsageAsync(settings.Database, prefix)).Distinct) < records / 5 && clock.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(50);
        service.Kill();
        await service.StartAsync();

        long rows = 0, distinct = 0;
        var wait = Stopwatch.StartNew();
        while (wait.Elapsed < TimeSpan.FromSeconds(120))
        {
            (rows, distinct) = await Stored.UsageAsync(settings.Database, prefix);
            if (distinct >= records) break;
            await Task.Delay(200);
        }

        var verify = await VerifyAsync();
        return new Outcome("SIGKILL of the consuming node during Kafka consumption", $"{records:N0} records on ledger.usage.v1",
            $"killed with {before:N0} recorded", $"all consumed {wait.Elapsed.TotalSeconds:0.0} s after restart; {distinct:N0} of {records:N0} stored",
            records - distinct, rows - distinct, verify, distinct == records && rows == distinct && verify.StartsWith("ok"));
    }

    /// <summary>The broker frozen (SIGSTOP) while top-ups commit: their integration events wait in the outbox and are sent after SIGCONT.</summary>
    public async Task<Outcome> BrokerFrozenAsync()
    {
        var prefix = Fresh("o");
        var topUps = 20 * Scale;
        var client = api();
        var answered = 0;
        Signal("STOP", settings.KafkaPid);
        try
        {
            for (var i = 0; i < topUps; i++)
            {
                var answer = await client.SendAsync(HttpMethod.Post, $"/v1/wallets/{_customers[i % _customers.Count]}/top-ups", $$"""{ "id": "{{prefix}}{{i}}", "amount": "1.00" }""");
                if (answer is { Status: HttpStatusCode.Created }) answered++;
            }

            await Task.Delay(TimeSpan.FromSeconds(3));
        }
        finally
        {
            Signal("CONT", settings.KafkaPid);
        }

        // Every top-up's ledger.wallet.topped_up event arrives, once the broker is back.
        var (seen, _) = ToppedUpDelivered(prefix, topUps, TimeSpan.FromSeconds(60), Stopwatch.StartNew());

        var (rows, distinct) = await Stored.TopUpsAsync(settings.Database, prefix);
        var verify = await VerifyAsync();
        var delivered = seen.Count;
        return new Outcome("Kafka broker frozen (SIGSTOP 3 s) while the outbox holds integration events", $"{topUps} top-ups",
            $"{answered} of {topUps} top-ups answered 201 with the broker frozen",
            $"{delivered} of {topUps} topped_up events delivered after SIGCONT ({seen.Values.Count(v => v > 1)} more than once)",
            topUps - delivered, rows - distinct, verify, answered == topUps && delivered == topUps && distinct == topUps && rows == distinct && verify.StartsWith("ok"));
    }

    private static void Signal(string signal, int pid)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    /// <summary>Mixed load (usage, top-ups, balance reads) while PostgreSQL is stopped for a while, or restarted.</summary>
    public async Task<Outcome> PostgresDownAsync(TimeSpan down)
    {
        var prefix = Fresh("p");
        var statuses = new ConcurrentDictionary<string, int>();
        var unavailableWithoutRetryAfter = 0;
        var sentUsage = 0L;
        var sentTopUps = 0L;
        var stop = false;

        // Every operation is retried until it is answered (idempotent by its id), as a client of a ledger would.
        async Task<bool> UntilAnswered(Api client, HttpMethod method, string path, string? body, HttpStatusCode ok)
        {
            for (var attempt = 0; attempt < 400; attempt++)
            {
                var answer = await client.SendAsync(method, path, body);
                var key = answer is null ? "no answer" : ((int)answer.Value.Status).ToString(System.Globalization.CultureInfo.InvariantCulture);
                statuses.AddOrUpdate(key, 1, (_, n) => n + 1);
                if (answer is { Status: HttpStatusCode.ServiceUnavailable, RetryAfter: false }) Interlocked.Increment(ref unavailableWithoutRetryAfter);
                if (answer is { } a && a.Status == ok) return true;
                if (answer is { } b && (int)b.Status is >= 400 and < 500) return false;
                await Task.Delay(250);
            }

            return false;
        }

        var failures = 0;
        var load = Enumerable.Range(0, 4).Select(c => Task.Run(async () =>
        {
            var client = api();
            var random = new Random(100 + c);
            for (var i = 0; !Volatile.Read(ref stop); i++)
            {
                bool done;
                switch (i % 3)
                {
                    case 0:
                        done = await UntilAnswered(client, HttpMethod.Post, "/v1/usage", Batch($"{prefix}{c}-{i}", 20, random), HttpStatusCode.OK);
                        if (done) Interlocked.Add(ref sentUsage, 20);
                        break;
                    case 1:
                        done = await UntilAnswered(client, HttpMethod.Post, $"/v1/wallets/{_customers[random.Next(_customers.Count)]}/top-ups",
                            $$"""{ "id": "{{prefix}}{{c}}-{{i}}", "amount": "2.00" }""", HttpStatusCode.Created);
                        if (done) Interlocked.Increment(ref sentTopUps);
                        break;
                    default:
                        done = await UntilAnswered(client, HttpMethod.Get, $"/v1/wallets/{_customers[random.Next(_customers.Count)]}", null, HttpStatusCode.OK);
                        break;
                }

                if (!done) Interlocked.Increment(ref failures);
            }
        })).ToList();

        await Task.Delay(TimeSpan.FromSeconds(1.5));
        await postgres.StopAsync();
        await Task.Delay(down);
        await postgres.StartAsync();
        var back = Stopwatch.StartNew();
        var ready = await service.WaitReadyAsync(TimeSpan.FromSeconds(60));
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Volatile.Write(ref stop, true);
        await Task.WhenAll(load);

        var usage = await Stored.UsageAsync(settings.Database, prefix);
        var topUps = await Stored.TopUpsAsync(settings.Database, prefix);
        var verify = await VerifyAsync();
        var answers = string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}: {s.Value}"));
        var bad = statuses.Keys.Where(k => k is not ("200" or "201" or "503" or "no answer")).ToList();
        var passed = bad.Count == 0 && unavailableWithoutRetryAfter == 0 && failures == 0 && usage.Distinct == sentUsage && usage.Rows == usage.Distinct &&
                     topUps.Distinct == sentTopUps && topUps.Rows == topUps.Distinct && verify.StartsWith("ok");
        return new Outcome(down == TimeSpan.Zero ? "PostgreSQL restarted under mixed load" : $"PostgreSQL stopped for {down.TotalSeconds:0} s under mixed load",
            "4 clients: usage batches, top-ups, balance reads; each retried until answered",
            $"answers {answers}; 503 without Retry-After: {unavailableWithoutRetryAfter}",
            $"ready {ready.TotalSeconds:0.0} s after PostgreSQL was back, no restart; {usage.Distinct:N0} of {sentUsage:N0} usage events and {topUps.Distinct} of {sentTopUps} top-ups stored",
            sentUsage - usage.Distinct + (sentTopUps - topUps.Distinct), usage.Rows - usage.Distinct + (topUps.Rows - topUps.Distinct), verify, passed,
            bad.Count > 0 ? "unexpected statuses " + string.Join(",", bad) : failures > 0 ? $"{failures} operations never answered" : null);
    }

    /// <summary>Hundreds of idle connections and bodies trickled a byte at a time, while health and balance reads are timed.</summary>
    public async Task<Outcome> SlowAndIdleClientsAsync()
    {
        var client = api();
        var wallet = $"/v1/wallets/{_customers[0]}";
        async Task<(double[] Health, double[] Reads)> TimeReads(int n)
        {
            var (health, reads) = (new List<double>(), new List<double>());
            for (var i = 0; i < n; i++)
            {
                var clock = Stopwatch.StartNew();
                var ready = await client.SendAsync(HttpMethod.Get, "/health/ready");
                health.Add(ready is { Status: HttpStatusCode.OK } ? clock.Elapsed.TotalMilliseconds : double.PositiveInfinity);
                clock.Restart();
                var read = await client.SendAsync(HttpMethod.Get, wallet);
                reads.Add(read is { Status: HttpStatusCode.OK } ? clock.Elapsed.TotalMilliseconds : double.PositiveInfinity);
            }

            return (health.Order().ToArray(), reads.Order().ToArray());
        }

        static double P(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)(p / 100 * sorted.Length))];

        var baseline = await TimeReads(100);
        var port = new Uri(service.Url).Port;
        var idle = new List<TcpClient>();
        var trickling = new List<TcpClient>();
        using var stop = new CancellationTokenSource();
        try
        {
            for (var i = 0; i < 300 * Scale; i++)
            {
                var socket = new TcpClient();
                await socket.ConnectAsync(IPAddress.Loopback, port);
                idle.Add(socket);
            }

            var trickle = Enumerable.Range(0, 50).Select(async _ =>
            {
                var socket = new TcpClient();
                await socket.ConnectAsync(IPAddress.Loopback, port);
                lock (trickling) trickling.Add(socket);
                var stream = socket.GetStream();
                var head = Encoding.ASCII.GetBytes($"POST /v1/usage HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n");
                try
                {
                    await stream.WriteAsync(head, stop.Token);
                    while (!stop.IsCancellationRequested)
                    {
                        await stream.WriteAsync("{"u8.ToArray(), stop.Token);
                        await Task.Delay(200, stop.Token);
                    }
                }
                catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
                {
                    // The server may drop a body this slow (Kestrel's minimum data rate); the harness only measures the others' latency.
                }
            }).ToList();

            await Task.Delay(500);
            var during = await TimeReads(100);
            stop.Cancel();
            await Task.WhenAll(trickle);

            // Within their usual latency: a p99 no worse than five times the quiet one, with a floor of 100 ms for a 2-core machine's noise.
            var healthBound = Math.Max(P(baseline.Health, 99) * 5, 100);
            var readBound = Math.Max(P(baseline.Reads, 99) * 5, 100);
            var verify = await VerifyAsync();
            var passed = P(during.Health, 99) <= healthBound && P(during.Reads, 99) <= readBound && verify.StartsWith("ok");
            return new Outcome("Slow and idle clients", $"{300 * Scale} idle connections + 50 bodies trickled a byte per 200 ms",
                $"p50 / p99: health {P(during.Health, 50):0.0} / {P(during.Health, 99):0.0} ms, balance read {P(during.Reads, 50):0.0} / {P(during.Reads, 99):0.0} ms " +
                $"(quiet: {P(baseline.Health, 50):0.0} / {P(baseline.Health, 99):0.0} ms, {P(baseline.Reads, 50):0.0} / {P(baseline.Reads, 99):0.0} ms)",
                $"p99 within {healthBound:0} ms and {readBound:0} ms", 0, 0, verify, passed);
        }
        finally
        {
            foreach (var socket in idle.Concat(trickling)) socket.Dispose();
        }
    }
}
