using System.Collections.Concurrent;
using System.Net;
using Ledger.Accounts;
using Ledger.Invoicing;
using Ledger.Metering;
using Ledger.Tests.Infrastructure;
using Ledger.Tests.Metering;
using Marten;
using Marten.Events;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Ledger.Tests.Operations;

/// <summary>
/// Every read model rebuilt through the admin API while top-ups, debits, usage (current and late)
/// and period closes keep arriving: no write is refused, no invoice is issued twice, late usage
/// stays late, and once the writers stop every balance, rollup and invoice equals both what the
/// acknowledged commands imply and a fresh replay of the events.
/// </summary>
[Collection(LedgerCollection.Name)]
public class RebuildUnderLoadTests(LedgerApp app)
{
    private const decimal WhatsAppPrice = 0.115m;

    [Fact]
    public async Task Rebuilding_every_read_model_under_writes_loses_doubles_and_re_decides_nothing()
    {
        var admin = app.Client();
        var customers = new List<string>();
        for (var i = 0; i < 6; i++) customers.Add(await admin.NewCustomerAsync(creditLimit: "20.00"));
        foreach (var c in customers) await admin.TopUpAsync(c, "100.00");
        // October is closed for the first three before the load: their October usage is late from then on.
        var lateCustomers = customers.Take(3).ToList();
        foreach (var c in lateCustomers)
        {
            (await admin.PostJson($"/v1/billing/periods/2026-10/close?customerId={c}", "{}")).Status.ShouldBe(HttpStatusCode.OK);
        }

        // Enough history that each rebuild takes a while, so the writers below run across it.
        var seeded = await admin.NewCustomerAsync();
        for (var batch = 0; batch < 4; batch++)
        {
            await admin.RecordUsageAsync(UsageApi.Batch(Enumerable.Range(0, 5000)
                .Select(i => UsageApi.Event($"seed-{batch}-{i}", seeded, "otp.sms", "1", "2026-11-02T10:00:00Z"))));
        }

        var planIds = new Dictionary<string, string>();
        foreach (var c in customers) planIds[c] = (await admin.GetJson($"/v1/customers/{c}")).Body.Str("planId");

        var baseline = new Dictionary<string, decimal>();
        foreach (var c in customers) baseline[c] = decimal.Parse((await admin.WalletAsync(c)).Str("balance"), System.Globalization.CultureInfo.InvariantCulture);

        var statuses = new ConcurrentBag<(string What, HttpStatusCode Status)>();
        var toppedUp = new ConcurrentDictionary<string, int>();
        var debited = new ConcurrentDictionary<string, int>();
        var units = new ConcurrentDictionary<string, int>();
        var lateIds = new ConcurrentBag<(string Customer, string EventId)>();
        using var stop = new CancellationTokenSource();
        var now = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm:ssZ");

        async Task Loop(Func<int, Task> step)
        {
            for (var i = 0; !stop.IsCancellationRequested; i++) await step(i);
        }

        var writers = new[]
        {
            Loop(async i =>
            {
                var c = customers[i % customers.Count];
                var (status, _) = await admin.PostJson($"/v1/wallets/{c}/top-ups", $$"""{ "id": "load-tu-{{i}}", "amount": "10.00" }""");
                statuses.Add(("top-up", status));
                if (status == HttpStatusCode.Created) toppedUp.AddOrUpdate(c, 1, (_, n) => n + 1);
            }),
            Loop(async i =>
            {
                var c = customers[(i + 1) % customers.Count];
                var (status, _) = await admin.PostJson($"/v1/wallets/{c}/debits", $$"""{ "id": "load-db-{{i}}", "amount": "1.00", "reason": "load" }""");
                statuses.Add(("debit", status));
                if (status == HttpStatusCode.Created) debited.AddOrUpdate(c, 1, (_, n) => n + 1);
            }),
            Loop(async i =>
            {
                var c = customers[(i + 2) % customers.Count];
                var late = lateCustomers.Contains(c) && i % 2 == 0;
                var id = $"load-u-{i}";
                var (status, body, _) = await admin.PostUsageAsync(UsageApi.Batch(
                    UsageApi.Event(id, c, "otp.whatsapp", "2", late ? "2026-10-15T10:00:00Z" : now),
                    UsageApi.Event(id + "-b", c, "otp.whatsapp", "1", now)));
                statuses.Add(("usage", status));
                if (status == HttpStatusCode.OK)
                {
                    body!["accepted"]!.GetValue<int>().ShouldBe(2);
                    units.AddOrUpdate(c, 3, (_, n) => n + 3);
                    if (late) lateIds.Add((c, id));
                }
            }),
            Loop(async i =>
            {
                // Terms and plans change while their documents are rebuilt: the rebuilt document must
                // not be overwritten by a writer that read the one the rebuild replaced.
                var c = customers[i % customers.Count];
                var (status, _) = await admin.PutJson($"/v1/customers/{c}", $$"""
                    { "name": "Acme {{i}}", "planId": "{{planIds[c]}}", "currency": "INR", "creditLimit": "20.00",
                      "lowBalanceThreshold": "100.00", "billingTimeZone": "Asia/Kolkata" }
                    """);
                statuses.Add(("terms", status));
                var (published, _) = await admin.PutJson($"/v1/plans/{planIds[c]}", Api.StarterPlan.Replace("\"0.18\"", i % 2 == 0 ? "\"0.12\"" : "\"0.18\""));
                statuses.Add(("plan", published));
            }),
            Loop(async i =>
            {
                // September closes for each customer, and is closed again: the same invoice, never a second one.
                var c = customers[i % customers.Count];
                var (status, _) = await admin.PostJson($"/v1/billing/periods/2026-09/close?customerId={c}", "{}");
                statuses.Add(("close", status));
                await Task.Delay(20);
            }),
        };

        var readFailures = new ConcurrentBag<string>();
        var reads = 0;
        var reader = Task.CompletedTask;
        try
        {
            // A reader throughout: never a missing wallet or invoice, never fewer rolled-up units than before.
            // (The rollups are kept by the async daemon: first it catches up with the seeded usage.)
            await app.Store.WaitForNonStaleProjectionDataAsync(TimeSpan.FromSeconds(60));
            var seededUnits = await RolledUpAsync(admin, seeded);
            seededUnits.ShouldBe(20_000m);
            reader = Loop(async i =>
            {
                var c = customers[i % customers.Count];
                var (wallet, _) = await admin.GetJson($"/v1/wallets/{c}");
                if (wallet != HttpStatusCode.OK) readFailures.Add($"wallet {c}: {wallet}");
                if (lateCustomers.Contains(c))
                {
                    var (invoice, _) = await admin.GetJson($"/v1/invoices/INV-2026-10-{c}");
                    if (invoice != HttpStatusCode.OK) readFailures.Add($"invoice of {c}: {invoice}");
                }

                var units = await RolledUpAsync(admin, seeded);
                if (units < seededUnits) readFailures.Add($"rollups of {seeded}: {units} < {seededUnits}");
                Interlocked.Increment(ref reads);
            });

            var writesBefore = statuses.ToArray();
            foreach (var name in new[] { "Wallets", "UsageRollups", "Invoices", "Customers", "Plans" })
            {
                var rebuild = await ProjectionRebuildTests.RebuildAsync(admin, name);
                rebuild.Str("status").ShouldBe("completed", rebuild.ToJsonString());
            }

            // Every kind of write went on while the read models were rebuilt (not only before).
            foreach (var kind in new[] { "top-up", "debit", "usage", "terms", "plan", "close" })
                statuses.Count(s => s.What == kind).ShouldBeGreaterThan(writesBefore.Count(s => s.What == kind), $"no {kind} during the rebuilds");
        }
        finally
        {
            // Stopped however the test ends: writers left running would change the next test's rows.
            await stop.CancelAsync();
        }

        await Task.WhenAll(writers);
        await reader;
        readFailures.ShouldBeEmpty();
        reads.ShouldBeGreaterThan(10);

        // No write refused: money commands are 201 or an honest 422, usage and closes 200.
        statuses.Where(s => s.Status is not (HttpStatusCode.Created or HttpStatusCode.OK or HttpStatusCode.UnprocessableEntity))
            .ShouldBeEmpty();
        statuses.Count(s => s.What == "usage").ShouldBeGreaterThan(5);
        statuses.Count(s => s.What == "top-up").ShouldBeGreaterThan(5);
        statuses.Count(s => s.What == "plan").ShouldBeGreaterThan(2);

        // Every balance is what the acknowledged commands imply.
        foreach (var c in customers)
        {
            var expected = baseline[c] + 10m * toppedUp.GetValueOrDefault(c) - 1m * debited.GetValueOrDefault(c) - WhatsAppPrice * units.GetValueOrDefault(c);
            decimal.Parse((await admin.WalletAsync(c)).Str("balance"), System.Globalization.CultureInfo.InvariantCulture).ShouldBe(expected, c);
        }

        await using (var session = app.Store.QuerySession())
        {
            // One invoice per customer and closed period, in the events and in the documents.
            foreach (var c in customers)
            {
                var issued = await session.Events.QueryRawEventDataOnly<InvoiceIssued>().Where(i => i.Invoice.CustomerId == c).ToListAsync();
                issued.Select(i => i.Invoice.Period).Order().ToArray().ShouldBe(lateCustomers.Contains(c) ? new[] { "2026-09", "2026-10" } : new[] { "2026-09" }, customMessage: c);
                (await session.Query<Invoice>().Where(i => i.Document.CustomerId == c).CountAsync()).ShouldBe(issued.Count, c);
            }

            // Late usage stayed late: billed in the first open period after October.
            foreach (var (c, id) in lateIds)
            {
                var usage = await session.Events.QueryRawEventDataOnly<UsageRecorded>().Where(u => u.CustomerId == c && u.EventId == id).SingleAsync();
                (usage.Late, usage.Period).ShouldBe((true, "2026-11"), customMessage: id);
            }

            // Rollups hold every acknowledged unit once (once the daemon has caught up).
            await app.Store.WaitForNonStaleProjectionDataAsync(TimeSpan.FromSeconds(60));
            await using var connection = new NpgsqlConnection(LedgerApp.ConnectionString);
            await connection.OpenAsync();
            foreach (var c in customers)
            {
                await using var command = connection.CreateCommand();
                command.CommandText = $"select coalesce(sum(quantity), 0) from {app.Schema}.usage_rollups where customer_id = $1 and dimension = ''";
                command.Parameters.Add(new NpgsqlParameter { Value = c });
                ((decimal)(await command.ExecuteScalarAsync())!).ShouldBe(units.GetValueOrDefault(c), c);
            }
        }

        // The write side equals the fold of its events, and the read models a fresh replay of them.
        // (This test's customers: other tests in the collection tamper with rows of their own on purpose.)
        foreach (var c in customers)
        {
            (await WriteSideCheck.DifferencesAsync(app.Store, app.Host.Services.GetRequiredService<NpgsqlDataSource>(), CancellationToken.None, c)).ShouldBeEmpty();
        }

        var live = await ProjectionRebuildTests.SnapshotAsync(app);
        foreach (var name in new[] { "Wallets", "UsageRollups", "Invoices", "Customers", "Plans" })
        {
            (await ProjectionRebuildTests.RebuildAsync(admin, name)).Str("status").ShouldBe("completed");
        }

        var replayed = await ProjectionRebuildTests.SnapshotAsync(app);
        foreach (var table in ProjectionRebuildTests.Tables) replayed[table].ShouldBe(live[table], table);
    }

    /// <summary>The units of usage the rollups hold for a customer, over every day bucket.</summary>
    private static async Task<decimal> RolledUpAsync(HttpClient client, string customer)
    {
        var (status, body) = await client.GetJson($"/v1/customers/{customer}/usage?granularity=day&from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z");
        if (status != HttpStatusCode.OK) return -1;
        return body!["buckets"]!.AsArray().Sum(b => decimal.Parse(b.Str("quantity"), System.Globalization.CultureInfo.InvariantCulture));
    }
}
