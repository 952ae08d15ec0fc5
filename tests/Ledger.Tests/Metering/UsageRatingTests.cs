using System.Net;
using Ledger.Common;
using Ledger.Metering;
using Ledger.Plans;
using Ledger.Tests.Infrastructure;
using static Ledger.Tests.Metering.UsageApi;

namespace Ledger.Tests.Metering;

/// <summary>Real-time rating: recorded order under concurrency, and the plan version in force when usage occurred.</summary>
[Collection(LedgerCollection.Name)]
public class UsageRatingTests(LedgerApp app)
{
    private static readonly MeterPrice Sms = new(PricingModel.Graduated, Tiers: [new(10000m, 0.20m), new(null, 0.15m)]);

    private readonly HttpClient _admin = app.Client();

    [Fact]
    public async Task Concurrent_graduated_usage_is_charged_in_the_order_the_ledger_recorded_it()
    {
        var customer = await _admin.NewCustomerAsync();
        await _admin.TopUpAsync(customer, "3000.00");

        // 8 batches × 3 events of 400 + 13k SMS (k = 0 … 23): 13,188 units, the bound falls inside one event.
        var batches = Enumerable.Range(0, 8).Select(b => Batch(Enumerable.Range(0, 3).Select(i =>
            Event($"g-{b}-{i}", customer, "otp.sms", (400 + 13 * (3 * b + i)).ToString(), "2026-11-10T10:00:00Z")))).ToList();
        var answers = await Task.WhenAll(batches.Select((batch, i) => app.Client("usage:write", subject: $"client-{i}").RecordUsageAsync(batch)));

        answers.Sum(a => a.Accepted).ShouldBe(24);
        // 10,000 × 0.20 + 3,188 × 0.15 = 2,478.20; 3,000.00 − 2,478.20 = 521.80
        (await _admin.WalletAsync(customer)).Str("balance").ShouldBe("521.800000");

        var events = await app.UsageEventsAsync(customer);   // in sequence order
        var running = 0m;
        foreach (var e in events)
        {
            var u = (UsageRecorded)e.Data;
            u.Amount.Amount.ShouldBe(Pricing.RealTimeCharge(Sms, running, u.Quantity), $"{u.EventId} after {running} units (sequence {e.Sequence})");
            running += u.Quantity;
        }

        running.ShouldBe(13188m);
    }

    [Fact]
    public async Task A_new_plan_version_prices_usage_that_occurs_after_it_and_earlier_usage_keeps_the_old_price()
    {
        var customer = await _admin.NewCustomerAsync();
        await _admin.TopUpAsync(customer, "100.00");
        var (_, customerBody) = await _admin.GetJson($"/v1/customers/{customer}");
        var planId = customerBody.Str("planId");
        var meter = app.Client("usage:write");

        // Rated (and the plan looked up) before the change: 0.115.
        (await meter.RecordUsageAsync(Batch(Event("v-1", customer, "otp.whatsapp", "1", "2026-11-10T10:00:00Z")))).ShouldBe((1, 0));

        var (status, plan) = await _admin.PutJson($"/v1/plans/{planId}", Api.StarterPlan.Replace("\"0.115\"", "\"0.125\""));
        status.ShouldBe(HttpStatusCode.OK, plan?.ToJsonString());
        plan!["version"]!.GetValue<int>().ShouldBe(2);

        var soon = Timestamps.Format(DateTimeOffset.UtcNow.AddMinutes(2));
        (await meter.RecordUsageAsync(Batch(
            Event("v-2", customer, "otp.whatsapp", "1", soon),                      // after the change: 0.125
            Event("v-3", customer, "otp.whatsapp", "1", "2026-11-10T11:00:00Z")))).ShouldBe((2, 0));   // before it: 0.115

        var stored = (await app.UsageEventsAsync(customer)).Select(e => (UsageRecorded)e.Data).ToDictionary(u => u.EventId);
        stored["v-1"].PlanVersion.ShouldBe(1);
        stored["v-1"].Amount.Amount.ShouldBe(0.115m);
        stored["v-2"].PlanVersion.ShouldBe(2);
        stored["v-2"].Amount.Amount.ShouldBe(0.125m);
        stored["v-3"].PlanVersion.ShouldBe(1);
        stored["v-3"].Amount.Amount.ShouldBe(0.115m);
        // 100 − 0.115 − 0.125 − 0.115
        (await _admin.WalletAsync(customer)).Str("balance").ShouldBe("99.645000");
    }

    [Fact]
    public async Task Usage_whose_charge_is_beyond_what_the_ledger_can_hold_is_a_400_not_a_server_error()
    {
        // Both numbers are within the 1e15 cap on quantities and prices, but the charge is 1e24:
        // more than a balance or rated amount (numeric(28,6), at most 22 integer digits) can hold.
        var planId = LedgerApp.NewId("plan");
        (await _admin.PutJson($"/v1/plans/{planId}", Api.StarterPlan.Replace("\"0.115\"", "\"1000000000\""))).Status.ShouldBe(HttpStatusCode.Created);
        var customer = LedgerApp.NewId("cust");
        (await _admin.PutJson($"/v1/customers/{customer}", $$"""
            { "name": "Acme Pvt Ltd", "planId": "{{planId}}", "currency": "INR",
              "creditLimit": "0.00", "lowBalanceThreshold": "100.00", "billingTimeZone": "Asia/Kolkata" }
            """)).Status.ShouldBe(HttpStatusCode.Created);

        var (status, problem, _) = await app.Client("usage:write").PostUsageAsync(Batch(
            Event("huge-1", customer, "otp.whatsapp", "1000000000000000", "2026-11-10T10:00:00Z")));

        status.ShouldBe(HttpStatusCode.BadRequest, problem?.ToJsonString());
        problem!["errors"]!["events[0].quantity"].ShouldNotBeNull(problem.ToJsonString());
        (await app.UsageEventCountAsync(customer)).ShouldBe(0);
        (await _admin.WalletAsync(customer)).Str("balance").ShouldBe("0.000000");
    }

    [Fact]
    public async Task A_customer_moved_to_another_plan_is_rated_on_it_at_once()
    {
        var customer = await _admin.NewCustomerAsync();
        await _admin.TopUpAsync(customer, "100.00");
        var meter = app.Client("usage:write");
        (await meter.RecordUsageAsync(Batch(Event("w-1", customer, "otp.whatsapp", "1", "2026-11-10T10:00:00Z")))).ShouldBe((1, 0));

        var premium = LedgerApp.NewId("plan");
        (await _admin.PutJson($"/v1/plans/{premium}", Api.StarterPlan.Replace("\"0.115\"", "\"0.50\""))).Status.ShouldBe(HttpStatusCode.Created);
        var (moved, body) = await _admin.PutJson($"/v1/customers/{customer}", $$"""
            { "name": "Acme Pvt Ltd", "planId": "{{premium}}", "currency": "INR",
              "creditLimit": "0.00", "lowBalanceThreshold": "100.00", "billingTimeZone": "Asia/Kolkata" }
            """);
        moved.ShouldBe(HttpStatusCode.OK, body?.ToJsonString());

        (await meter.RecordUsageAsync(Batch(Event("w-2", customer, "otp.whatsapp", "1", "2026-11-10T10:00:00Z")))).ShouldBe((1, 0));

        var stored = (await app.UsageEventsAsync(customer)).Select(e => (UsageRecorded)e.Data).ToDictionary(u => u.EventId);
        stored["w-1"].Amount.Amount.ShouldBe(0.115m);
        // flat 0.50 on the new plan: round6(2 × 0.50) − round6(1 × 0.50)
        stored["w-2"].Amount.Amount.ShouldBe(0.50m);
        (await _admin.WalletAsync(customer)).Str("balance").ShouldBe("99.385000");
    }
}
