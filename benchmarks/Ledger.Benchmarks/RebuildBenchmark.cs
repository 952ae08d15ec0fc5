using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Npgsql;

/// <summary>
/// Rebuilds through the admin API on a running, idle ledger: BENCH_EVENTS usage events (default
/// 1,000,000) over BENCH_CUSTOMERS customers are recorded over HTTP; once the async daemon has
/// caught up, each table read model is rebuilt blue/green with POST /v1/admin/projections/{name}/rebuild
/// and timed from the request to the completed poll. Next to each, in the same run, a plain select
/// of the same events (the columns a rebuild reads) read to the end by a client: the floor a rebuild
/// cannot beat. The tables must come back identical (md5 of their rows).
/// </summary>
public static class RebuildBenchmark
{
    private static readonly Dictionary<string, (string Table, string[] Types)> Projections = new()
    {
        ["Wallets"] = ("wallets", ["customer_registered", "customer_updated", "wallet_topped_up", "wallet_debited", "wallet_adjusted", "usage_recorded", "period_settled"]),
        ["UsageRollups"] = ("usage_rollups", ["usage_recorded"]),
    };

    public static async Task<int> RunAsync(Settings settings, HttpClient http, Func<HttpMethod, string, string, Task> send)
    {
        var total = int.Parse(Environment.GetEnvironmentVariable("BENCH_EVENTS") ?? "1000000", CultureInfo.InvariantCulture);
        var run = Guid.NewGuid().ToString("N")[..6];
        await send(HttpMethod.Put, $"/v1/plans/rb-{run}", """
            { "currency": "INR", "meters": { "otp.sms": { "model": "flat", "unitPrice": "0.20" }, "otp.whatsapp": { "model": "flat", "unitPrice": "0.115" } } }
            """);
        var customers = Enumerable.Range(0, settings.Customers).Select(i => $"rb{run}-{i:D5}").ToArray();
        await Parallel.ForEachAsync(customers, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (c, _) =>
        {
            await send(HttpMethod.Put, $"/v1/customers/{c}", $$"""{ "name": "{{c}}", "planId": "rb-{{run}}", "currency": "INR", "creditLimit": "0.00" }""");
            await send(HttpMethod.Post, $"/v1/wallets/{c}/top-ups", """{ "id": "seed", "amount": "1000000.00" }""");
        });

        // Spread over the last 24 hours: about ten events per customer, meter and hour, as an OTP
        // sender's traffic is (30 days would give one or two per hour bucket: a rollup row per event).
        var now = DateTimeOffset.UtcNow;
        const int batch = 1000;
        var load = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, total / batch), new ParallelOptions { MaxDegreeOfParallelism = settings.Clients }, async (b, _) =>
        {
            var random = new Random(b);
            var body = new StringBuilder("{\"events\":[");
            for (var i = 0; i < batch; i++)
            {
                var sms = random.Next(2) == 0;
                var at = now.AddMinutes(-random.Next(1, 24 * 60)).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
                if (i > 0) body.Append(',');
                body.Append("{\"id\":\"e").Append(b).Append('-').Append(i).Append("\",\"customerId\":\"").Append(customers[random.Next(customers.Length)])
                    .Append("\",\"meter\":\"").Append(sms ? "otp.sms" : "otp.whatsapp").Append("\",\"quantity\":\"1\",\"occurredAt\":\"").Append(at)
                    .Append("\",\"dimensions\":{\"country\":\"").Append(sms ? "IN" : "ID").Append("\"}}");
            }

            await send(HttpMethod.Post, "/v1/usage", body.Append("]}").ToString());
        });
        Console.WriteLine($"recorded {total:N0} usage events in {load.Elapsed.TotalSeconds:0.0} s ({total / load.Elapsed.TotalSeconds:N0} events/s)");

        var caughtUp = Stopwatch.StartNew();
        while (await LagAsync(http, "UsageRollups") > 0) await Task.Delay(200);
        Console.WriteLine($"async daemon caught up {caughtUp.Elapsed.TotalSeconds:0.0} s after the load");

        await using var db = NpgsqlDataSource.Create(settings.Database);
        var status = 0;
        foreach (var (name, (table, types)) in Projections)
        {
            // The floor: the same events, the same columns (type and data, what a rebuild of these
            // additive read models reads), read to the end by a plain client (in
            // table order: sorting a million rows by sequence would spill to disk and measure the sort).
            var plain = Stopwatch.StartNew();
            long rows = 0;
            await using (var command = db.CreateCommand(
                             $"select type, data::text from {settings.Schema}.mt_events where type = any($1)"))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = types });
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    _ = reader.GetString(1);
                    rows++;
                }
            }

            plain.Stop();
            var before = await Md5Async(db, settings.Schema, table);
            Console.WriteLine($"| plain select of the {name} events ({rows:N0} rows, the columns a rebuild reads) | {plain.Elapsed.TotalSeconds:0.0} s ({rows / plain.Elapsed.TotalSeconds:N0} rows/s) |");
            // Twice: the first rebuild in the service's process runs while the JIT is still tiering up
            // its code (with profile-guided optimization, a few seconds on 2 busy cores); the second
            // runs on warm code, as every rebuild after the first does.
            foreach (var attempt in new[] { "first", "second" })
            {
                var clock = Stopwatch.StartNew();
                using var started = await http.PostAsync($"/v1/admin/projections/{name}/rebuild", null);
                if ((int)started.StatusCode != 202) throw new InvalidOperationException($"rebuild {name}: {(int)started.StatusCode} {await started.Content.ReadAsStringAsync()}");
                var location = started.Headers.Location!.ToString();
                JsonNode rebuild;
                while ((rebuild = JsonNode.Parse(await http.GetStringAsync(location))!)["status"]!.GetValue<string>() == "running") await Task.Delay(50);
                clock.Stop();
                var after = await Md5Async(db, settings.Schema, table);
                var processed = rebuild["processed"]!.GetValue<long>();
                var same = before == after && rebuild["status"]!.GetValue<string>() == "completed";
                Console.WriteLine($"| rebuild {name} through the admin API ({attempt} in the process), {processed:N0} events | {clock.Elapsed.TotalSeconds:0.0} s " +
                                  $"({processed / clock.Elapsed.TotalSeconds:N0} events/s); table {(same ? "identical" : "DIFFERENT: " + rebuild.ToJsonString())} |");
                if (!same) status = 1;
            }
        }

        return status;
    }

    private static async Task<long> LagAsync(HttpClient http, string name)
    {
        var list = JsonNode.Parse(await http.GetStringAsync("/v1/admin/projections"))!;
        return list["items"]!.AsArray().Single(i => i!["name"]!.GetValue<string>() == name)!["lag"]!.GetValue<long>();
    }

    private static async Task<string> Md5Async(NpgsqlDataSource db, string schema, string table)
    {
        await using var command = db.CreateCommand($"select md5(string_agg(t::text, '|' order by t::text)) from {schema}.{table} t");
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
