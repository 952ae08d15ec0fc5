using System.Net;
using System.Text.Json.Nodes;
using Ledger.Metering;
using Ledger.Tests.Infrastructure;
using static Ledger.Tests.Metering.UsageApi;

namespace Ledger.Tests.Invoicing;

/// <summary>
/// Which invoice usage lands on: periods are calendar months in the customer's billing time zone,
/// and usage whose period is already closed is billed, marked late, in the earliest open period.
/// </summary>
[Collection(LedgerCollection.Name)]
public class BillingPeriodTests(LedgerApp app)
{
    private readonly HttpClient _admin = app.Client();
    private readonly HttpClient _meter = app.Client("usage:write", subject: "metering-client");

    private static IEnumerable<string> Lines(JsonNode invoice) =>
        invoice["lines"]!.AsArray().Select(l => $"{l.Str("description")} | {l.Str("quantity")} | {l.Str("amount")} | {(l!["late"]!.GetValue<bool>() ? "late" : "on time")}");

    [Fact]
    public async Task A_Kolkata_customers_October_ends_at_18_30_UTC_on_31_October()
    {
        var c = await _admin.NewCustomerInZoneAsync("Asia/Kolkata");
        (await _meter.RecordUsageAsync(Batch(
            Event("k-1", c, "otp.whatsapp", "2", "2026-10-31T18:29:00Z"),     // 23:59 on 31 October in Kolkata
            Event("k-2", c, "otp.whatsapp", "5", "2026-10-31T18:31:00Z")))).ShouldBe((2, 0));   // 00:01 on 1 November there

        await _admin.CloseForAsync("2026-10", c);
        var invoice = await _admin.InvoiceAsync($"INV-2026-10-{c}");

        Lines(invoice).ShouldBe(["otp.whatsapp | 2 | 0.23 | on time"]);   // 2 × 0.115
        invoice.Str("periodStart").ShouldBe("2026-09-30T18:30:00Z");
        invoice.Str("periodEnd").ShouldBe("2026-10-31T18:30:00Z");
        invoice.Str("billingTimeZone").ShouldBe("Asia/Kolkata");
        var stored = (await app.UsageEventsAsync(c)).Select(e => (UsageRecorded)e.Data).ToDictionary(u => u.EventId);
        stored["k-2"].Period.ShouldBe("2026-11");
        stored["k-2"].Late.ShouldBeFalse();   // it is not late: its own period, November, is open
    }

    [Fact]
    public async Task A_UTC_customers_October_starts_at_midnight_UTC_on_1_October()
    {
        var c = await _admin.NewCustomerInZoneAsync("UTC");
        (await _meter.RecordUsageAsync(Batch(
            Event("u-1", c, "otp.whatsapp", "3", "2026-09-30T23:59:00Z"),
            Event("u-2", c, "otp.whatsapp", "4", "2026-10-01T00:00:00Z")))).ShouldBe((2, 0));

        await _admin.CloseForAsync("2026-10", c);
        var october = await _admin.InvoiceAsync($"INV-2026-10-{c}");
        Lines(october).ShouldBe(["otp.whatsapp | 4 | 0.46 | on time"]);   // 4 × 0.115
        october.Str("periodStart").ShouldBe("2026-10-01T00:00:00Z");
        october.Str("periodEnd").ShouldBe("2026-11-01T00:00:00Z");

        await _admin.CloseForAsync("2026-09", c);
        Lines(await _admin.InvoiceAsync($"INV-2026-09-{c}")).ShouldBe(["otp.whatsapp | 3 | 0.35 | on time"]);   // 0.345 → 0.35
    }

    [Fact]
    public async Task Usage_in_a_closed_period_is_accepted_billed_late_in_the_next_open_period_and_leaves_the_closed_invoice_alone()
    {
        var c = await _admin.NewCustomerInZoneAsync("UTC");
        await _admin.TopUpAsync(c, "100.00");
        (await _meter.RecordUsageAsync(Batch(Event("t-1", c, "otp.whatsapp", "10", "2026-10-10T10:00:00Z")))).ShouldBe((1, 0));
        await _admin.CloseForAsync("2026-10", c);
        var october = await _admin.InvoiceAsync($"INV-2026-10-{c}");
        var pdf = await _admin.PdfAsync($"INV-2026-10-{c}");
        var balance = (await _admin.WalletAsync(c)).Str("balance");
        balance.ShouldBe("98.640000");   // 100 − total 1.36 (10 × 0.115 = 1.15; tax 0.207 → 0.21)

        // The same event again after the close is a duplicate, not late usage.
        (await _meter.RecordUsageAsync(Batch(Event("t-1", c, "otp.whatsapp", "10", "2026-10-10T10:00:00Z")))).ShouldBe((0, 1));

        // Recorded after the close, occurred in October: billed in November, late.
        (await _meter.RecordUsageAsync(Batch(Event("t-2", c, "otp.whatsapp", "3", "2026-10-20T10:00:00Z")))).ShouldBe((1, 0));

        var late = (await app.UsageEventsAsync(c)).Select(e => (UsageRecorded)e.Data).Single(u => u.EventId == "t-2");
        late.Period.ShouldBe("2026-11");
        late.Late.ShouldBeTrue();
        late.Amount.Amount.ShouldBe(0.345m);   // charged in real time like any usage: 3 × 0.115
        (await _admin.WalletAsync(c)).Str("balance").ShouldBe("98.295000");

        var rollup = await app.UsageWhenCaughtUpAsync(_admin, $"/v1/customers/{c}/usage?groupBy=late&granularity=month",
            body => body["buckets"]!.AsArray().Count > 0);
        var bucket = rollup["buckets"]!.AsArray().ShouldHaveSingleItem()!;
        bucket.Str("meter").ShouldBe("otp.whatsapp");
        bucket.Str("quantity").ShouldBe("3");
        bucket["dimensions"]!.ToJsonString().ShouldBe("""{"late":"true"}""");
        bucket.Str("start").ShouldBe("2026-10-01T00:00:00Z");   // rollups stay at the instant the usage occurred

        // The October invoice, its PDF and the settlement are untouched; closing again changes nothing.
        (await _admin.CloseForAsync("2026-10", c))["invoices"]![0]!.GetValue<string>().ShouldBe($"INV-2026-10-{c}");
        (await _admin.InvoiceAsync($"INV-2026-10-{c}")).ToJsonString().ShouldBe(october.ToJsonString());
        (await _admin.PdfAsync($"INV-2026-10-{c}")).ShouldBe(pdf);
        (await _admin.WalletAsync(c)).Str("balance").ShouldBe("98.295000");
    }

    [Fact]
    public async Task Late_usage_goes_to_the_earliest_open_period_gets_its_own_lines_and_is_settled_with_that_period()
    {
        var c = await _admin.NewCustomerInZoneAsync("UTC");
        await _admin.TopUpAsync(c, "3000.00");
        await _admin.CloseForAsync("2026-09", c);   // September closed with no usage; October open

        (await _meter.RecordUsageAsync(Batch(Event("e-1", c, "otp.sms", "9990", "2026-10-15T10:00:00Z")))).ShouldBe((1, 0));
        // September usage after September's close: billed in October, the earliest open period, as late.
        (await _meter.RecordUsageAsync(Batch(Event("e-2", c, "otp.sms", "20", "2026-09-20T10:00:00Z")))).ShouldBe((1, 0));

        var stored = (await app.UsageEventsAsync(c)).Select(e => (UsageRecorded)e.Data).ToDictionary(u => u.EventId);
        stored["e-2"].Period.ShouldBe("2026-10");
        stored["e-2"].Late.ShouldBeTrue();
        // Graduated tiers count the period's units in recorded order, late ones included:
        // units 9,991–10,000 at 0.20 and 10,001–10,010 at 0.15 = 2.00 + 1.50.
        stored["e-2"].Amount.Amount.ShouldBe(3.50m);
        (await _admin.InvoiceAsync($"INV-2026-09-{c}"))["lines"]!.AsArray().ShouldBeEmpty();

        await _admin.CloseForAsync("2026-10", c);
        var october = await _admin.InvoiceAsync($"INV-2026-10-{c}");
        Lines(october).ShouldBe([
            "otp.sms 1–10,000 | 9990 | 1998.00 | on time",                  // 9,990 × 0.20
            "Late usage — otp.sms 1–10,000 | 10 | 2.00 | late",              // 10 × 0.20
            "Late usage — otp.sms 10,001+ | 10 | 1.50 | late",               // 10 × 0.15
        ]);
        // subtotal 2,001.50; tax 2,001.50 × 0.18 = 360.27; total 2,361.77; debits 1,998.00 + 3.50 = 2,001.50.
        october.Str("total").ShouldBe("2361.77");
        october.Str("usageCharged").ShouldBe("2001.500000");
        october.Str("settlement").ShouldBe("360.270000");
        (await app.RealTimeDebitsAsync(c, "2026-10") + 360.27m).ShouldBe(2361.77m);
        (await _admin.WalletAsync(c)).Str("balance").ShouldBe("638.230000");   // 3,000 − 2,361.77

        // With September and October closed, more September usage goes to November.
        (await _meter.RecordUsageAsync(Batch(Event("e-3", c, "otp.sms", "1", "2026-09-21T10:00:00Z")))).ShouldBe((1, 0));
        var third = (await app.UsageEventsAsync(c)).Select(e => (UsageRecorded)e.Data).Single(u => u.EventId == "e-3");
        third.Period.ShouldBe("2026-11");
        third.Late.ShouldBeTrue();
        (await _admin.InvoiceAsync($"INV-2026-10-{c}")).ToJsonString().ShouldBe(october.ToJsonString());
    }

    [Fact]
    public async Task Usage_of_an_open_period_recorded_while_an_earlier_one_is_closed_is_not_late()
    {
        var c = await _admin.NewCustomerInZoneAsync("UTC");
        await _admin.CloseForAsync("2026-10", c);

        (await _meter.RecordUsageAsync(Batch(Event("f-1", c, "otp.whatsapp", "1", "2026-11-02T10:00:00Z")))).ShouldBe((1, 0));

        var u = (await app.UsageEventsAsync(c)).Select(e => (UsageRecorded)e.Data).ShouldHaveSingleItem();
        u.Period.ShouldBe("2026-11");
        u.Late.ShouldBeFalse();
        var (status, _) = await _admin.GetJson($"/v1/invoices/INV-2026-11-{c}");
        status.ShouldBe(HttpStatusCode.NotFound);
    }
}
