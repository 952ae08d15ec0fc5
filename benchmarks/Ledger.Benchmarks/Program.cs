using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using JasperFx;
using JasperFx.Events;
using Marten;
using Npgsql;
using NpgsqlTypes;

// Ingestion benchmark: drives the running service over loopback HTTP and measures, in the same
// run, (a) raw PostgreSQL COPY of the same rows into a plain table with a unique key and
// (b) a plain Marten append of the same events in 100-event sessions. See docs/benchmarks.md.
var settings = Settings.From(args);
Console.WriteLine($"Ledger ingestion benchmark — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores");
Console.WriteLine($"service {settings.BaseUrl}, {settings.Customers} customers, {settings.Clients} clients × batches of {settings.BatchSize}, {settings.Duration.TotalSeconds:0}s, mode {Environment.GetEnvironmentVariable("BENCH_MODE") ?? "ingest"}");

var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = settings.Clients + 4 }) { BaseAddress = new Uri(settings.BaseUrl), Timeout = TimeSpan.FromMinutes(2) };
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", settings.Token);

if (Environment.GetEnvironmentVariable("BENCH_MODE") == "close")
{
    return await CloseBenchmark.RunAsync(settings, http, Send);
}

if (Environment.GetEnvironmentVariable("BENCH_MODE") == "inbox")
{
    return await InboxCostBenchmark.RunAsync(settings);
}

if (Environment.GetEnvironmentVariable("BENCH_MODE") == "poison")
{
    return await PoisonBenchmark.RunAsync(settings, http, Send);
}

if (Environment.GetEnvironmentVariable("BENCH_MODE") == "audit")
{
    return await AuditExportBenchmark.RunAsync(settings, http, Send);
}

if (Environment.GetEnvironmentVariable("BENCH_MODE") == "rebuild")
{
    return await RebuildBenchmark.RunAsync(settings, http, Send);
}

if (Environment.GetEnvironmentVariable("BENCH_MODE") == "kafka")
{
    return await KafkaBenchmark.RunAsync(settings, Send);
}

var run = Guid.NewGuid().ToString("N")[..6];
var plan = $"bench-{run}";
await Send(HttpMethod.Put, $"/v1/plans/{plan}", """
    { "currency": "INR", "taxRate": "0.18", "meters": {
        "otp.sms": { "model": "graduated", "tiers": [ { "upTo": "100000", "unitPrice": "0.20" }, { "upTo": null, "unitPrice": "0.15" } ] },
        "otp.whatsapp": { "model": "flat", "unitPrice": "0.115" } } }
    """);
var customers = Enumerable.Range(0, settings.Customers).Select(i => $"b{run}-{i:D5}").ToArray();
await Parallel.ForEachAsync(customers, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (c, _) =>
{
    await Send(HttpMethod.Put, $"/v1/customers/{c}", $$"""{ "name": "{{c}}", "planId": "{{plan}}", "currency": "INR", "creditLimit": "0.00", "lowBalanceThreshold": "10.00" }""");
    await Send(HttpMethod.Post, $"/v1/wallets/{c}/top-ups", $$"""{ "id": "seed", "amount": "100000.00" }""");
});
Console.WriteLine($"set up {customers.Length} customers");

// Load: every client sends batches of fresh events to random customers for the duration.
var acked = new long[settings.Clients];
var charged = new decimal[customers.Length];
var latencies = new List<double>[settings.Clients];
var stop = DateTime.UtcNow + settings.Duration;
var rss = new RssSampler(settings.ServicePid);
var occurredAt = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
var sw = Stopwatch.StartNew();
var load = Enumerable.Range(0, settings.Clients).Select(client => Task.Run(async () =>
{
    var random = new Random(client);
    latencies[client] = [];
    var localCharged = new decimal[customers.Length];
    var sequence = 0;
    var body = new StringBuilder(settings.BatchSize * 160);
    while (DateTime.UtcNow < stop)
    {
        body.Clear().Append("{\"events\":[");
        var picks = new (int Customer, bool Sms)[settings.BatchSize];
        for (var i = 0; i < settings.BatchSize; i++)
        {
            var customer = random.Next(customers.Length);
            var sms = random.Next(2) == 0;
            picks[i] = (customer, sms);
            if (i > 0) body.Append(',');
            body.Append("{\"id\":\"e").Append(client).Append('-').Append(sequence++)
                .Append("\",\"customerId\":\"").Append(customers[customer])
                .Append("\",\"meter\":\"").Append(sms ? "otp.sms" : "otp.whatsapp")
                .Append("\",\"quantity\":\"1\",\"occurredAt\":\"").Append(occurredAt)
                .Append("\",\"dimensions\":{\"country\":\"").Append(sms ? "IN" : "ID").Append("\"}}");
        }

        body.Append("]}");
        var started = Stopwatch.GetTimestamp();
        using var response = await http.PostAsync("/v1/usage", new StringContent(body.ToString(), Encoding.UTF8, "application/json"));
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"POST /v1/usage: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        latencies[client].Add(elapsed);
        acked[client] += settings.BatchSize;
        foreach (var (customer, sms) in picks) localCharged[customer] += sms ? 0.20m : 0.115m;
    }

    lock (charged) for (var i = 0; i < charged.Length; i++) charged[i] += localCharged[i];
})).ToList();

// Visibility probe: a usage batch of one event, then read the balance until the debit shows.
var visibility = new List<double>();
var extraPolls = 0;
var probe = $"b{run}-probe";
await Send(HttpMethod.Put, $"/v1/customers/{probe}", $$"""{ "name": "probe", "planId": "{{plan}}", "currency": "INR" }""");
var probeTask = Task.Run(async () =>
{
    var n = 0;
    while (DateTime.UtcNow < stop)
    {
        await Send(HttpMethod.Post, "/v1/usage", $$"""{ "events": [ { "id": "p{{n}}", "customerId": "{{probe}}", "meter": "otp.whatsapp", "quantity": "1", "occurredAt": "{{occurredAt}}" } ] }""");
        var acknowledged = Stopwatch.GetTimestamp();
        var expected = (-0.115m * (n + 1)).ToString("F6", CultureInfo.InvariantCulture);
        for (var poll = 0; ; poll++)
        {
            var wallet = JsonNode.Parse(await http.GetStringAsync($"/v1/wallets/{probe}"))!;
            if (wallet["balance"]!.GetValue<string>() == expected) break;
            extraPolls++;
        }

        visibility.Add(Stopwatch.GetElapsedTime(acknowledged).TotalMilliseconds);
        n++;
        await Task.Delay(100);
    }
});

while (load.Any(t => !t.IsCompleted))
{
    rss.Sample();
    await Task.WhenAny(Task.WhenAll(load), Task.Delay(250));
}

await Task.WhenAll(load);
var loadSeconds = sw.Elapsed.TotalSeconds;
await probeTask;
var totalAcked = acked.Sum();
var all = latencies.SelectMany(l => l).Order().ToArray();
var ledgerRate = totalAcked / loadSeconds;

// Reads: GET wallet at a fixed 1,000 requests/s (open loop) for 10 s against random customers.
var readLatencies = new System.Collections.Concurrent.ConcurrentBag<double>();
var readErrors = 0;
var readStart = Stopwatch.GetTimestamp();
var readTasks = new List<Task>();
for (var i = 0; i < 10_000; i++)
{
    var due = TimeSpan.FromMilliseconds(i);
    var wait = due - Stopwatch.GetElapsedTime(readStart);
    if (wait > TimeSpan.Zero) await Task.Delay(wait);
    var customer = customers[i % customers.Length];
    readTasks.Add(Task.Run(async () =>
    {
        var started = Stopwatch.GetTimestamp();
        using var response = await http.GetAsync($"/v1/wallets/{customer}");
        await response.Content.ReadAsByteArrayAsync();
        if (response.IsSuccessStatusCode) readLatencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        else Interlocked.Increment(ref readErrors);
    }));
}

await Task.WhenAll(readTasks);
var readSeconds = Stopwatch.GetElapsedTime(readStart).TotalSeconds;
var reads = readLatencies.Order().ToArray();

// Verification: every acknowledged event recorded once; balances equal the oracle.
await using var db = NpgsqlDataSource.Create(settings.Database);
var schema = settings.Schema;
var recorded = (long)(await Scalar(db, $"select count(*) from {schema}.usage_event_ids where customer_id like 'b{run}-%' and customer_id <> '{probe}'"))!;
var mismatches = 0;
await using (var cmd = db.CreateCommand($"select customer_id, balance from {schema}.wallets where customer_id like 'b{run}-%' and customer_id <> '{probe}'"))
await using (var reader = await cmd.ExecuteReaderAsync())
{
    var index = customers.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i);
    while (await reader.ReadAsync())
    {
        var expected = 100000m - charged[index[reader.GetString(0)]];
        if (reader.GetDecimal(1) != expected) mismatches++;
    }
}

if (Environment.GetEnvironmentVariable("BENCH_PGSS") == "1")
{
    // Where PostgreSQL spent its time during the load (needs shared_preload_libraries=pg_stat_statements).
    await using var top = db.CreateCommand(
        "select calls, round(total_exec_time)::bigint, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) " +
        "from pg_stat_statements order by total_exec_time desc limit 15");
    await using var r = await top.ExecuteReaderAsync();
    Console.WriteLine("calls | total ms | rows | statement");
    while (await r.ReadAsync()) Console.WriteLine($"{r.GetInt64(0)} | {r.GetInt64(1)} | {r.GetInt64(2)} | {r.GetString(3)}");
}

// Baseline (a): raw COPY of the same number of rows into a plain table with a unique key.
var rows = (int)Math.Min(totalAcked, 500_000);
var copyRate = await CopyBaseline(db, rows, customers);
// Baseline (b): plain Marten append of the same events in 100-event sessions, as many writers as clients.
var martenRate = await MartenBaseline(settings, rows, customers);

Console.WriteLine();
Console.WriteLine("| measure | value |");
Console.WriteLine("| --- | --- |");
Console.WriteLine($"| ledger ingestion, end to end (HTTP, batches of {settings.BatchSize}) | **{ledgerRate:N0} events/s** ({totalAcked:N0} events in {loadSeconds:0.0} s) |");
Console.WriteLine($"| request latency p50 / p99 | {Percentile(all, 50):0.0} ms / {Percentile(all, 99):0.0} ms ({all.Length} requests) |");
var vis = visibility.Order().ToArray();
Console.WriteLine($"| usage-to-balance visibility p50 / p99 (ack → a GET that shows the debit) | {Percentile(vis, 50):0.00} ms / {Percentile(vis, 99):0.00} ms ({vis.Length} probes; {extraPolls} GETs found the balance not yet updated) |");
Console.WriteLine($"| service RSS peak (during ingestion) | {rss.PeakMb:0} MB |");
Console.WriteLine($"| GET wallet at 1,000 requests/s (open loop, 10 s) p50 / p99 | {Percentile(reads, 50):0.00} ms / {Percentile(reads, 99):0.00} ms ({reads.Length:N0} ok, {readErrors} errors, {reads.Length / readSeconds:N0} requests/s achieved) |");
Console.WriteLine($"| baseline (a) raw COPY, unique key, {rows:N0} rows | {copyRate:N0} rows/s — ledger/(a) = {ledgerRate / copyRate:0.00} |");
Console.WriteLine($"| baseline (b) Marten append, 100-event sessions, {settings.Clients} writers | {martenRate:N0} events/s — ledger/(b) = {ledgerRate / martenRate:0.00} |");
Console.WriteLine($"| verification | {recorded:N0} of {totalAcked:N0} acknowledged events recorded once; {mismatches} wallet balances differ from the oracle |");
return recorded == totalAcked && mismatches == 0 ? 0 : 1;

async Task Send(HttpMethod method, string url, string json)
{
    using var request = new HttpRequestMessage(method, url) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
    using var response = await http.SendAsync(request);
    if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{method} {url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
}

static async Task<object?> Scalar(NpgsqlDataSource db, string sql)
{
    await using var command = db.CreateCommand(sql);
    return await command.ExecuteScalarAsync();
}

static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p / 100 * sorted.Length) - 1)];

static async Task<double> CopyBaseline(NpgsqlDataSource db, int rows, string[] customers)
{
    await using (var setup = db.CreateCommand(
        "drop table if exists bench_copy; " +
        "create table bench_copy (customer_id text not null, event_id text not null, meter text not null, quantity numeric(28,6) not null, " +
        "occurred_at timestamptz not null, dimensions jsonb, primary key (customer_id, event_id))"))
        await setup.ExecuteNonQueryAsync();

    var random = new Random(1);
    var at = DateTime.UtcNow;
    var sw = Stopwatch.StartNew();
    await using var connection = await db.OpenConnectionAsync();
    await using (var writer = await connection.BeginBinaryImportAsync("copy bench_copy (customer_id, event_id, meter, quantity, occurred_at, dimensions) from stdin (format binary)"))
    {
        for (var i = 0; i < rows; i++)
        {
            await writer.StartRowAsync();
            await writer.WriteAsync(customers[random.Next(customers.Length)], NpgsqlDbType.Text);
            await writer.WriteAsync("e" + i.ToString(CultureInfo.InvariantCulture), NpgsqlDbType.Text);
            await writer.WriteAsync(i % 2 == 0 ? "otp.sms" : "otp.whatsapp", NpgsqlDbType.Text);
            await writer.WriteAsync(1m, NpgsqlDbType.Numeric);
            await writer.WriteAsync(at, NpgsqlDbType.TimestampTz);
            await writer.WriteAsync("{\"country\":\"IN\"}", NpgsqlDbType.Jsonb);
        }

        await writer.CompleteAsync();
    }

    var rate = rows / sw.Elapsed.TotalSeconds;
    await using (var drop = connection.CreateCommand()) { drop.CommandText = "drop table bench_copy"; await drop.ExecuteNonQueryAsync(); }
    return rate;
}

static async Task<double> MartenBaseline(Settings settings, int rows, string[] customers)
{
    await using var store = DocumentStore.For(options =>
    {
        options.Connection(settings.Database);
        options.DatabaseSchemaName = "bench_marten";
        options.Events.StreamIdentity = StreamIdentity.AsString;
        options.AutoCreateSchemaObjects = AutoCreate.All;
    });
    await store.Advanced.Clean.CompletelyRemoveAllAsync();
    await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();

    var sessions = rows / 100;
    var next = -1;
    var at = DateTimeOffset.UtcNow;
    var sw = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, settings.Clients).Select(w => Task.Run(async () =>
    {
        var random = new Random(w);
        int s;
        while ((s = Interlocked.Increment(ref next)) < sessions)
        {
            await using var session = store.LightweightSession();
            for (var i = 0; i < 100; i++)
            {
                // Each writer owns a slice of the customers (as a Kafka partition would), so writers never race on a stream.
                var customer = customers[(random.Next(customers.Length / settings.Clients) * settings.Clients + w) % customers.Length];
                session.Events.Append("bench/" + customer, new BenchUsage(customer, $"e{s}-{i}", "otp.sms", 1m, at, new() { ["country"] = "IN" }));
            }

            await session.SaveChangesAsync();
        }
    })));
    var rate = sessions * 100 / sw.Elapsed.TotalSeconds;
    await store.Advanced.Clean.CompletelyRemoveAllAsync();
    return rate;
}

public sealed record BenchUsage(string CustomerId, string EventId, string Meter, decimal Quantity, DateTimeOffset OccurredAt, Dictionary<string, string> Dimensions);

public sealed record Settings(string BaseUrl, string Token, string Database, string Schema, int Customers, int Clients, int BatchSize, TimeSpan Duration, int ServicePid)
{
    public static Settings From(string[] args)
    {
        string Env(string name, string fallback) => Environment.GetEnvironmentVariable(name) ?? fallback;
        return new Settings(
            Env("BENCH_URL", "http://127.0.0.1:5080"),
            Env("BENCH_TOKEN", ""),
            Env("BENCH_DATABASE", ""),
            Env("BENCH_SCHEMA", "ledger"),
            int.Parse(Env("BENCH_CUSTOMERS", "1000"), CultureInfo.InvariantCulture),
            int.Parse(Env("BENCH_CLIENTS", "8"), CultureInfo.InvariantCulture),
            int.Parse(Env("BENCH_BATCH", "500"), CultureInfo.InvariantCulture),
            TimeSpan.FromSeconds(int.Parse(Env("BENCH_SECONDS", "30"), CultureInfo.InvariantCulture)),
            int.Parse(Env("BENCH_SERVICE_PID", "0"), CultureInfo.InvariantCulture));
    }
}

public sealed class RssSampler(int pid)
{
    public double PeakMb { get; private set; }

    public void Sample()
    {
        if (pid <= 0) return;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (!line.StartsWith("VmRSS:", StringComparison.Ordinal)) continue;
                var kb = double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
                PeakMb = Math.Max(PeakMb, kb / 1024);
            }
        }
        catch (IOException)
        {
        }
    }
}
