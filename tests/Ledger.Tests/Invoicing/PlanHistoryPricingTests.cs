using System.Net;
using Ledger.Tests.Infrastructure;
using Ledger.Tests.Metering;
using static Ledger.Tests.Metering.UsageApi;

namespace Ledger.Tests.Invoicing;

/// <summary>The close prices each event by the plan version in force at its occurredAt, from the plan's history.</summary>
[Collection(LedgerCollection.Name)]
public class PlanHistoryPricingTests(LedgerApp app)
{
    private readonly HttpClient _admin = app.Client();

    [Fact]
    public async Task A_version_published_after_the_usage_but_effective_before_it_prices_that_usage_on_the_invoice()
    {
        var planId = LedgerApp.NewId("plan");
        var flat = (string price, string effectiveFrom) => $$"""
            { "currency": "INR", "taxRate": "0", "effectiveFrom": "{{effectiveFrom}}",
              "meters": { "otp.whatsapp": { "model": "flat", "unitPrice": "{{price}}" } } }
            """;
        (await _admin.PutJson($"/v1/plans/{planId}", flat("0.20", "2026-01-01T00:00:00Z"))).Status.ShouldBe(HttpStatusCode.Created);
        var customer = LedgerApp.NewId("cust");
        (await _admin.PutJson($"/v1/customers/{customer}", $$"""{ "name": "Acme", "planId": "{{planId}}", "currency": "INR" }"""))
            .Status.ShouldBe(HttpStatusCode.Created);

        // Rated in real time under version 1: 10 × 0.20 = 2.00 (and 5 × 0.20 = 1.00 before the change).
        (await app.Client("usage:write").RecordUsageAsync(Batch(
            Event("h-1", customer, "otp.whatsapp", "5", "2026-10-05T10:00:00Z"),
            Event("h-2", customer, "otp.whatsapp", "10", "2026-10-20T10:00:00Z")))).ShouldBe((2, 0));
        (await _admin.WalletAsync(customer)).Str("balance").ShouldBe("-3.000000");

        // Version 2, published now, in force from 15 October: the event of the 20th is priced at 0.50.
        (await _admin.PutJson($"/v1/plans/{planId}", flat("0.50", "2026-10-15T00:00:00Z"))).Status.ShouldBe(HttpStatusCode.OK);
        await _admin.CloseForAsync("2026-10", customer);

        var invoice = await app.Client("finance:read").InvoiceAsync($"INV-2026-10-{customer}");
        var lines = invoice["lines"]!.AsArray();
        lines.Count.ShouldBe(2, invoice.ToJsonString());
        lines.Select(l => (l.Str("quantity"), l.Str("unitPrice"), l.Str("amount")))
            .ShouldBe([("5", "0.20", "1.00"), ("10", "0.50", "5.00")]);
        invoice.Str("total").ShouldBe("6.00");
        invoice.Str("usageCharged").ShouldBe("3.000000");
        invoice.Str("settlement").ShouldBe("3.000000");
        (await _admin.WalletAsync(customer)).Str("balance").ShouldBe("-6.000000");
    }
}
