using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Npgsql;

/// <summary>
/// Period close at scale: N customers with usage in a past period, then one close of that period
/// for all of them, PDFs included, timed end to end over HTTP; then checks that every customer got
/// an invoice and that wallets paid exactly the invoice totals.
/// </summary>
public static class CloseBenchmark
{
    public const string Period = "2026-10";

    public static async Task<int> RunAsync(Settings settings, HttpClient http, Func<HttpMethod, string, string, Task> send)
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        var plan = $"close-{run}";
        await send(HttpMethod.Put, $"/v1/plans/{plan}", """
            { "currency": "INR", "taxRate": "0.18", "effectiveFrom": "2026-01-01T00:00:00Z", "meters": {
                "otp.sms": { "model": "graduated", "tiers": [ { "upTo": "5", "unitPrice": "0.20" }, { "upTo": null, "unitPrice": "0.15" } ] },
                "otp.whatsapp": { "model": "flat", "unitPrice": "0.115" } } }
            """);

        var customers = Enumerable.Range(0, settings.Customers).Select(i => $"c{run}-{i:D5}").ToArray();
        var setup = Stopwatch.StartNew();
        await Parallel.ForEachAsync(customers, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (c, _) =>
            await send(HttpMethod.Put, $"/v1/customers/{c}", $$"""{ "name": "Customer {{c}}", "planId": "{{plan}}", "currency": "INR" }"""));

        // Ten events per customer in the period: six SMS (crossing the graduated bound) and four WhatsApp.
        const int perCustomer = 10;
        var batches = customers.Chunk(500 / perCustomer).ToList();
        await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (chunk, _) =>
        {
            var body = new StringBuilder("{\"events\":[");
            var first = true;
            foreach (var c in chunk)
            {
                for (var i = 0; i < perCustomer; i++)
                {
                    if (!first) body.Append(',');
                    first = false;
                    body.Append(CultureInfo.InvariantCulture, $"{{\"id\":\"u{i}\",\"customerId\":\"{c}\",\"meter\":\"{(i < 6 ? "otp.sms" : "otp.whatsapp")}\",")
                        .Append(CultureInfo.InvariantCulture, $"\"quantity\":\"1\",\"occurredAt\":\"2026-10-{10 + i:D2}T12:00:00Z\"}}");
                }
            }

            await send(HttpMethod.Post, "/v1/usage", body.Append("]}").ToString());
        });
        Console.WriteLine($"set up {customers.Length:N0} customers with {customers.Length * perCustomer:N0} usage events in {setup.Elapsed.TotalSeconds:0.0} s");

        var rss = new RssSampler(settings.ServicePid);
        var close = Stopwatch.StartNew();
        var closing = http.PostAsync($"/v1/billing/periods/{Period}/close", null);
        while (!closing.IsCompleted)
        {
            rss.Sample();
            await Task.WhenAny(closing, Task.Delay(250));
        }

        using var response = await closing;
        var elapsed = close.Elapsed.TotalSeconds;
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"close: {(int)response.StatusCode} {text}");
        var invoices = JsonNode.Parse(text)!["invoices"]!.AsArray().Select(i => i!.GetValue<string>()).ToHashSet();

        // Every customer invoiced once; each invoice: sms 5 × 0.20 + 1 × 0.15 = 1.15, whatsapp 4 × 0.115 = 0.46,
        // subtotal 1.61, tax round(0.2898) = 0.29, total 1.90; the wallet paid exactly that.
        await using var db = NpgsqlDataSource.Create(settings.Database);
        await using var command = db.CreateCommand(
            $"select count(*), count(*) filter (where balance <> -1.90) from {settings.Schema}.wallets where customer_id like 'c{run}-%'");
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        var wallets = reader.GetInt64(0);
        var wrong = reader.GetInt64(1);
        var sample = JsonNode.Parse(await http.GetStringAsync($"/v1/invoices/INV-{Period}-{customers[^1]}"))!;
        var pdf = await http.GetByteArrayAsync($"/v1/invoices/INV-{Period}-{customers[^1]}/pdf");
        var pdfMatches = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(pdf)) == sample["pdfSha256"]!.GetValue<string>();

        Console.WriteLine();
        Console.WriteLine("| measure | value |");
        Console.WriteLine("| --- | --- |");
        Console.WriteLine($"| period close, {customers.Length:N0} customers, PDFs included (one POST) | **{elapsed:0.0} s** ({customers.Length / elapsed:N0} invoices/s) |");
        Console.WriteLine($"| service RSS peak during close | {rss.PeakMb:0} MB |");
        Console.WriteLine($"| verification | {invoices.Count(i => i.StartsWith($"INV-{Period}-c{run}-", StringComparison.Ordinal)):N0} invoices for {customers.Length:N0} customers; {wallets - wrong:N0} of {wallets:N0} wallets paid exactly the invoice total (1.90); sample total {sample["total"]}; PDF sha256 matches: {pdfMatches} |");
        return invoices.Count >= customers.Length && wrong == 0 && pdfMatches ? 0 : 1;
    }
}
