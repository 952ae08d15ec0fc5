using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;

/// <summary>
/// A poison client beside healthy ones: the healthy clients' throughput with and without a client
/// whose every batch fails inside PostgreSQL. The failure is real — a trigger on the usage dedup
/// table raises for ids starting with <c>poison-</c>, as a constraint or a corrupt page would —
/// and reaches the usage writer's group commit, which must isolate it (split in halves) without
/// slowing the others by more than 10%.
/// </summary>
public static class PoisonBenchmark
{
    public static async Task<int> RunAsync(Settings settings, HttpClient http, Func<HttpMethod, string, string, Task> send)
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        await send(HttpMethod.Put, $"/v1/plans/poison-{run}", """
            { "currency": "INR", "meters": { "otp.sms": { "model": "flat", "unitPrice": "0.20" } } }
            """);
        var customers = Enumerable.Range(0, 200).Select(i => $"p{run}-{i:D3}").ToArray();
        await Parallel.ForEachAsync(customers, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (c, _) =>
        {
            await send(HttpMethod.Put, $"/v1/customers/{c}", $$"""{ "name": "{{c}}", "planId": "poison-{{run}}", "currency": "INR", "lowBalanceThreshold": "0.00" }""");
            await send(HttpMethod.Post, $"/v1/wallets/{c}/top-ups", """{ "id": "seed", "amount": "1000000.00" }""");
        });

        await using var db = NpgsqlDataSource.Create(settings.Database);
        await using (var trigger = db.CreateCommand(
                         $"create or replace function {settings.Schema}.bench_poison() returns trigger language plpgsql as $$ " +
                         "begin if new.event_id like 'poison-%' then raise exception 'poison batch (benchmark trigger)'; end if; return new; end $$; " +
                         $"drop trigger if exists bench_poison on {settings.Schema}.usage_event_ids; " +
                         $"create trigger bench_poison before insert on {settings.Schema}.usage_event_ids for each row execute function {settings.Schema}.bench_poison()"))
        {
            await trigger.ExecuteNonQueryAsync();
        }

        var seconds = Math.Max(10, settings.Duration.TotalSeconds / 2);
        var occurredAt = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        try
        {
            var results = new List<(string Phase, double Healthy, long Poisoned, long PoisonAnswers)>();
            foreach (var (phase, poison) in new[] { ("without", false), ("with", true), ("without", false), ("with", true) })
            {
                var (healthy, poisonedSent, poisonAnswers) = await PhaseAsync(http, customers, occurredAt, settings.Clients, TimeSpan.FromSeconds(seconds), poison, $"{run}{results.Count}");
                results.Add((phase, healthy, poisonedSent, poisonAnswers));
                Console.WriteLine($"{phase} the poison client: {healthy:N0} healthy events/s{(poison ? $", {poisonedSent:N0} poison batches sent, answered {poisonAnswers:N0} × 5xx" : "")}");
            }

            var without = results.Where(r => r.Phase == "without").Average(r => r.Healthy);
            var with = results.Where(r => r.Phase == "with").Average(r => r.Healthy);
            Console.WriteLine($"| healthy clients' usage throughput without / with a poison client ({settings.Clients} healthy clients × 500-event batches, 1 poison client, 2 × {seconds:0} s each, alternating) | {without:N0} / {with:N0} events/s — {with / without:P0} ({(with >= 0.9 * without ? "within" : "NOT within")} 10%) |");
            var poisoned = results.Sum(r => r.Poisoned);
            var failed = results.Sum(r => r.PoisonAnswers);
            Console.WriteLine($"| poison batches answered with an error (none recorded) | {failed:N0} of {poisoned:N0} |");
            await using var count = db.CreateCommand($"select count(*) from {settings.Schema}.mt_events where type = 'usage_recorded' and data ->> 'eventId' like 'poison-%'");
            var stored = (long)(await count.ExecuteScalarAsync())!;
            Console.WriteLine($"| verification | {stored} poison events stored |");
            return stored == 0 && failed == poisoned ? 0 : 1;
        }
        finally
        {
            await using var drop = db.CreateCommand($"drop trigger if exists bench_poison on {settings.Schema}.usage_event_ids");
            await drop.ExecuteNonQueryAsync();
        }
    }

    private static async Task<(double HealthyPerSecond, long PoisonSent, long PoisonFailed)> PhaseAsync(HttpClient http, string[] customers, string occurredAt,
        int clients, TimeSpan duration, bool poison, string tag)
    {
        long healthy = 0, poisonSent = 0, poisonFailed = 0;
        var stop = DateTime.UtcNow + duration;
        var clock = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            var random = new Random(c);
            for (var b = 0; DateTime.UtcNow < stop; b++)
            {
                var body = Body(customers, random, $"h{tag}-{c}-{b}", 500, occurredAt, poisonAt: -1);
                using var response = await http.PostAsync("/v1/usage", new StringContent(body, Encoding.UTF8, "application/json"));
                if (response.IsSuccessStatusCode) Interlocked.Add(ref healthy, 500);
            }
        })).ToList();
        if (poison)
        {
            tasks.Add(Task.Run(async () =>
            {
                var random = new Random(99);
                for (var b = 0; DateTime.UtcNow < stop; b++)
                {
                    var body = Body(customers, random, $"x{tag}-{b}", 10, occurredAt, poisonAt: 5);
                    using var response = await http.PostAsync("/v1/usage", new StringContent(body, Encoding.UTF8, "application/json"));
                    Interlocked.Increment(ref poisonSent);
                    if ((int)response.StatusCode >= 500) Interlocked.Increment(ref poisonFailed);
                }
            }));
        }

        await Task.WhenAll(tasks);
        return (healthy / clock.Elapsed.TotalSeconds, poisonSent, poisonFailed);
    }

    private static string Body(string[] customers, Random random, string prefix, int size, string occurredAt, int poisonAt)
    {
        var body = new StringBuilder("{\"events\":[");
        for (var i = 0; i < size; i++)
        {
            if (i > 0) body.Append(',');
            var id = i == poisonAt ? $"poison-{prefix}" : $"{prefix}-{i}";
            body.Append("{\"id\":\"").Append(id).Append("\",\"customerId\":\"").Append(customers[random.Next(customers.Length)])
                .Append("\",\"meter\":\"otp.sms\",\"quantity\":\"1\",\"occurredAt\":\"").Append(occurredAt).Append("\"}");
        }

        return body.Append("]}").ToString();
    }
}
