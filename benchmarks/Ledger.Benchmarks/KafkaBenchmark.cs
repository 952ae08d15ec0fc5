using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Npgsql;

/// <summary>
/// Kafka ingestion end to end: N usage records produced to <c>ledger.usage.v1</c> (keyed by
/// customer, 1% of them produced twice), timed from the first record produced until every one is
/// recorded — deduplicated, rated, debited, rolled up, committed — and verified exactly once
/// against an oracle of the charges.
/// </summary>
public static class KafkaBenchmark
{
    public static async Task<int> RunAsync(Settings settings, Func<HttpMethod, string, string, Task> send)
    {
        var bootstrap = Environment.GetEnvironmentVariable("BENCH_KAFKA") ?? throw new InvalidOperationException("BENCH_KAFKA is not set.");
        var topic = Environment.GetEnvironmentVariable("BENCH_KAFKA_TOPIC") ?? "ledger.usage.v1";
        var events = int.Parse(Environment.GetEnvironmentVariable("BENCH_EVENTS") ?? "500000", CultureInfo.InvariantCulture);
        var consumers = Environment.GetEnvironmentVariable("BENCH_CONSUMERS") ?? "1";

        var run = Guid.NewGuid().ToString("N")[..6];
        var plan = $"kafka-{run}";
        await send(HttpMethod.Put, $"/v1/plans/{plan}", """
            { "currency": "INR", "meters": {
                "otp.sms": { "model": "graduated", "tiers": [ { "upTo": "100000", "unitPrice": "0.20" }, { "upTo": null, "unitPrice": "0.15" } ] },
                "otp.whatsapp": { "model": "flat", "unitPrice": "0.115" } } }
            """);
        var customers = Enumerable.Range(0, settings.Customers).Select(i => $"k{run}-{i:D5}").ToArray();
        await Parallel.ForEachAsync(customers, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (c, _) =>
            await send(HttpMethod.Put, $"/v1/customers/{c}", $$"""{ "name": "{{c}}", "planId": "{{plan}}", "currency": "INR", "lowBalanceThreshold": "0.00" }"""));
        Console.WriteLine($"set up {customers.Length} customers; producing {events:N0} records (+1% produced twice) to {topic}, {consumers} consumer(s) in the service");

        var occurredAt = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var charged = new decimal[customers.Length];
        var random = new Random(42);
        var records = new (string Key, byte[] Value)[events];
        for (var i = 0; i < events; i++)
        {
            var customer = random.Next(customers.Length);
            var sms = random.Next(2) == 0;
            charged[customer] += sms ? 0.20m : 0.115m;
            records[i] = (customers[customer], Encoding.UTF8.GetBytes(
                "{\"id\":\"k" + i + "\",\"customerId\":\"" + customers[customer] + "\",\"meter\":\"" + (sms ? "otp.sms" : "otp.whatsapp") +
                "\",\"quantity\":\"1\",\"occurredAt\":\"" + occurredAt + "\",\"dimensions\":{\"country\":\"" + (sms ? "IN" : "ID") + "\"}}"));
        }

        await using var db = NpgsqlDataSource.Create(settings.Database);
        var rss = new RssSampler(settings.ServicePid);
        var clock = Stopwatch.StartNew();
        // The development broker keeps ~5 MB per partition in memory and drops older records, so the
        // producer stays at most Window records ahead of what the ledger has recorded: the figure is
        // the ledger's consumption rate, not the broker's buffer.
        const int window = 40_000;
        var all = records.Concat(records.Take(events / 100)).ToArray();
        long recorded = 0;
        var deadline = DateTime.UtcNow.AddMinutes(10);
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, LingerMs = 5 }).Build())
        {
            for (var sent = 0; sent < all.Length;)
            {
                while (sent - recorded > window && DateTime.UtcNow < deadline)
                {
                    rss.Sample();
                    await Task.Delay(50);
                    recorded = await RecordedAsync(db, settings.Schema, run);
                }

                foreach (var (key, value) in all.Skip(sent).Take(window / 4))
                {
                    while (true)
                    {
                        try
                        {
                            producer.Produce(topic, new Message<string, byte[]> { Key = key, Value = value });
                            break;
                        }
                        catch (ProduceException<string, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                        {
                            producer.Poll(TimeSpan.FromMilliseconds(10));
                        }
                    }
                }

                sent = Math.Min(all.Length, sent + window / 4);
                producer.Flush(TimeSpan.FromMinutes(1));
            }
        }

        while (recorded < events && DateTime.UtcNow < deadline)
        {
            rss.Sample();
            await Task.Delay(50);
            recorded = await RecordedAsync(db, settings.Schema, run);
        }

        var seconds = clock.Elapsed.TotalSeconds;
        await Task.Delay(2000); // the duplicates have had their chance to be counted twice
        recorded = await RecordedAsync(db, settings.Schema, run);
        var usageEvents = (long)(await Scalar(db, $"select coalesce(sum(quantity), 0)::bigint from {settings.Schema}.usage_rollups where customer_id like 'k{run}-%' and dimension = ''"))!;
        var mismatches = 0;
        await using (var cmd = db.CreateCommand($"select customer_id, balance from {settings.Schema}.wallets where customer_id like 'k{run}-%'"))
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            var index = customers.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i);
            while (await reader.ReadAsync())
            {
                if (reader.GetDecimal(1) != -charged[index[reader.GetString(0)]]) mismatches++;
            }
        }

        Console.WriteLine();
        Console.WriteLine("| measure | value |");
        Console.WriteLine("| --- | --- |");
        Console.WriteLine($"| Kafka ingestion, end to end ({consumers} consumer(s), 4 partitions) | **{events / seconds:N0} events/s** ({events:N0} events in {seconds:0.0} s, the producer at most {window:N0} records ahead) |");
        Console.WriteLine($"| service RSS peak | {rss.PeakMb:0} MB |");
        Console.WriteLine($"| verification | {recorded:N0} of {events:N0} events recorded once (+{events / 100:N0} produced twice); rollups hold {usageEvents:N0}; {mismatches} wallet balances differ from the oracle |");
        return recorded == events && usageEvents == events && mismatches == 0 ? 0 : 1;
    }

    private static async Task<long> RecordedAsync(NpgsqlDataSource db, string schema, string run) =>
        (long)(await Scalar(db, $"select count(*) from {schema}.usage_event_ids where customer_id like 'k{run}-%'"))!;

    private static async Task<object?> Scalar(NpgsqlDataSource db, string sql)
    {
        await using var command = db.CreateCommand(sql);
        return await command.ExecuteScalarAsync();
    }
}
