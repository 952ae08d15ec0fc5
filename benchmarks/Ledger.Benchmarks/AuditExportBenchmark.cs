using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

/// <summary>
/// The audit export at scale: one customer with BENCH_EVENTS usage events (default 1,000,000),
/// recorded over HTTP, then streamed back as NDJSON while the service's RSS is sampled every
/// 50 ms: memory must stay flat, not grow with the history.
/// </summary>
public static class AuditExportBenchmark
{
    public static async Task<int> RunAsync(Settings settings, HttpClient http, Func<HttpMethod, string, string, Task> send)
    {
        var total = int.Parse(Environment.GetEnvironmentVariable("BENCH_EVENTS") ?? "1000000", CultureInfo.InvariantCulture);
        var run = Guid.NewGuid().ToString("N")[..6];
        var customer = $"audit-{run}";
        await send(HttpMethod.Put, $"/v1/plans/audit-{run}", """
            { "currency": "INR", "taxRate": "0.18", "meters": { "otp.sms": { "model": "flat", "unitPrice": "0.001" } } }
            """);
        await send(HttpMethod.Put, $"/v1/customers/{customer}", $$"""{ "name": "Audit", "planId": "audit-{{run}}", "currency": "INR", "creditLimit": "0.00" }""");
        await send(HttpMethod.Post, $"/v1/wallets/{customer}/top-ups", """{ "id": "seed", "amount": "100000000.00" }""");

        var occurredAt = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        const int batch = 1000;
        var load = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, total / batch), new ParallelOptions { MaxDegreeOfParallelism = settings.Clients }, async (b, _) =>
        {
            var body = new StringBuilder("{\"events\":[");
            for (var i = 0; i < batch; i++)
            {
                if (i > 0) body.Append(',');
                body.Append("{\"id\":\"e").Append(b).Append('-').Append(i).Append("\",\"customerId\":\"").Append(customer)
                    .Append("\",\"meter\":\"otp.sms\",\"quantity\":\"1\",\"occurredAt\":\"").Append(occurredAt).Append("\",\"dimensions\":{\"country\":\"IN\"}}");
            }

            await send(HttpMethod.Post, "/v1/usage", body.Append("]}").ToString());
        });
        Console.WriteLine($"recorded {total:N0} usage events for one customer in {load.Elapsed.TotalSeconds:0.0} s");

        var rss = new RssSampler(settings.ServicePid);
        rss.Sample();
        var before = rss.PeakMb;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                rss.Sample();
                try { await Task.Delay(50, sampling.Token); } catch (OperationCanceledException) { }
            }
        });

        var export = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/audit/customers/{customer}/events");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/x-ndjson"));
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        await using var stream = await response.Content.ReadAsStreamAsync();
        using var reader = new StreamReader(stream, Encoding.UTF8);
        long lines = 0, bytes = 0;
        var firstByte = 0.0;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (lines == 0) firstByte = export.Elapsed.TotalMilliseconds;
            lines++;
            bytes += line.Length + 1;
        }

        export.Stop();
        sampling.Cancel();
        await sampler;

        var expected = total + 2; // the registration and the top-up
        Console.WriteLine($"| audit NDJSON export, one customer, {lines:N0} events ({bytes / 1e6:N0} MB) | {export.Elapsed.TotalSeconds:0.0} s ({lines / export.Elapsed.TotalSeconds:N0} events/s), first line after {firstByte:0} ms |");
        Console.WriteLine($"| service RSS before the export / peak during it | {before:0} MB / {rss.PeakMb:0} MB (+{rss.PeakMb - before:0} MB for {bytes / 1e6:N0} MB streamed) |");
        Console.WriteLine($"| verification | {lines:N0} of {expected:N0} events streamed |");
        return lines == expected ? 0 : 1;
    }
}
