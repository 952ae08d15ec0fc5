using System.Text.Json;
using Ledger.Common;
using Ledger.Invoicing;
using Ledger.Plans;
using Ledger.Tests.Infrastructure;
using Snapshooter.Xunit3;
using static Ledger.Tests.Metering.UsageApi;

namespace Ledger.Tests.Invoicing;

/// <summary>
/// Snapshots (Snapshooter, in <c>__snapshots__/</c> beside this file) of an invoice computation and
/// of an issued invoice document: any change to lines, descriptions, rounding or fields shows up
/// as a diff to review. A changed snapshot is written to <c>__snapshots__/__mismatch__/</c>.
/// </summary>
[Collection(LedgerCollection.Name)]
public class InvoiceSnapshotTests(LedgerApp app)
{
    private static readonly Plan Starter = new("plan:starter", "starter", "INR",
    [
        new PlanVersion(1, 0.18m, new Dictionary<string, MeterPrice>
        {
            ["otp.sms"] = new(PricingModel.Graduated, Tiers: [new(10000m, 0.20m), new(null, 0.15m)]),
            ["otp.whatsapp"] = new(PricingModel.Flat, UnitPrice: 0.115m),
            ["otp.email"] = new(PricingModel.Package, PackageSize: 1000m, PackagePrice: 5.00m),
            ["mau"] = new(PricingModel.Volume, Tiers: [new(1000m, 1.00m), new(null, 0.80m)]),
        }, new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)),
    ]);

    [Fact]
    public void The_computation_of_a_period_with_every_model_and_late_usage_matches_its_snapshot()
    {
        var (_, end) = BillingPeriods.Bounds("2026-10", "Asia/Kolkata");
        var computation = InvoiceCalculator.Compute(
        [
            new("otp.sms", 9000m, 1, false), new("otp.sms", 1500m, 1, false),   // 10,000 × 0.20 + 500 × 0.15
            new("otp.whatsapp", 13m, 1, false),                                  // 13 × 0.115 = 1.495 → 1.50
            new("otp.email", 3001m, 1, false),                                   // 4 packages × 5.00
            new("mau", 1000m, 1, false),                                         // exactly 1,000: tier 1 × 1.00
            new("otp.sms", 25m, 1, true),                                        // late, units 10,501–10,525 × 0.15
            new("otp.email", 10m, 1, true),                                      // late opens its own package: 5.00
        ], Starter, "INR", end);

        // 1,000.00 + 20.00 + 2,000.00 + 75.00 + 1.50 + 5.00 + 3.75 = 3,105.25; tax 558.945 → 558.95; total 3,664.20
        computation.Total.ShouldBe(3664.20m);
        Snapshot.Match(computation);
    }

    [Fact]
    public async Task An_issued_invoice_matches_its_snapshot_with_ids_time_and_digest_masked()
    {
        var admin = app.Client();
        var c = await admin.NewCustomerInZoneAsync("Asia/Kolkata");
        (await app.Client("usage:write").RecordUsageAsync(Batch(
            Event("z-1", c, "otp.sms", "10001", "2026-10-01T09:00:00Z"),
            Event("z-2", c, "otp.whatsapp", "3", "2026-10-02T09:00:00Z"),
            Event("z-3", c, "otp.email", "999", "2026-10-03T09:00:00Z"),
            Event("z-4", c, "mau", "1001", "2026-10-04T09:00:00Z")))).ShouldBe((4, 0));
        await admin.CloseForAsync("2026-10", c);

        var invoice = (await admin.InvoiceAsync($"INV-2026-10-{c}")).Deserialize<InvoiceResponse>(Api.Web)!;
        invoice.PdfSha256.ShouldMatch("^[0-9a-f]{64}$");
        Snapshot.Match(invoice with
        {
            Id = invoice.Id.Replace(c, "{customer}", StringComparison.Ordinal),
            CustomerId = "{customer}",
            IssuedAt = "{issuedAt}",
            PdfSha256 = "{pdfSha256}",
        });
    }
}
