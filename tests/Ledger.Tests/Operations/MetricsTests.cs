using System.Diagnostics;
using System.Net;
using Ledger.Tests.Infrastructure;
using Ledger.Tests.Invoicing;
using Ledger.Tests.Metering;

namespace Ledger.Tests.Operations;

/// <summary>
/// A live scrape of <c>/metrics</c> after the ledger has done some work: the business series are
/// there with their documented names and units, Marten's and Wolverine's meters are exported, and
/// Prometheus's own linter (<c>promtool check metrics</c>) accepts the ledger's series.
/// </summary>
[Collection(LedgerCollection.Name)]
public class MetricsTests(LedgerApp app)
{
    [Fact]
    public async Task The_ledgers_series_are_exported_in_seconds_and_totals_and_pass_promtool()
    {
        var client = app.Client();
        var customer = await client.NewCustomerAsync(threshold: "50.00");
        await client.TopUpAsync(customer, "60.00");
        (await client.PostJson($"/v1/wallets/{customer}/debits", """{ "id": "m-1", "amount": "20.00", "reason": "fee" }""")).Status.ShouldBe(HttpStatusCode.Created);
        var now = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        await client.RecordUsageAsync(UsageApi.Batch(UsageApi.Event("m-u1", customer, "otp.sms", "1", now)));
        await client.RecordUsageAsync(UsageApi.Batch(UsageApi.Event("m-u1", customer, "otp.sms", "1", now)));
        await client.CloseForAsync("2026-09", customer);

        string[] expected =
        [
            "ledger_usage_recorded_total", "ledger_usage_duplicates_total", "ledger_usage_flush_duration_seconds_bucket",
            "ledger_wallet_commands_total{", "ledger_integration_events_total{", "ledger_billing_close_duration_seconds_bucket",
            "ledger_projection_lag{", "marten_event_append_events_total", "wolverine_", "type=\"ledger.wallet.low_balance\"",
        ];
        // Some series are recorded after the responses (Wolverine's, when the outbox has sent), and the
        // exporter may answer a scrape from a cache of up to 300 ms: scraped again until all are there, for 10 s.
        var text = "";
        for (var deadline = DateTime.UtcNow.AddSeconds(10); ; await Task.Delay(200))
        {
            text = await app.Client(scopes: null).GetStringAsync("/metrics");
            if (expected.All(text.Contains) || DateTime.UtcNow > deadline) break;
        }

        foreach (var series in expected) text.ShouldContain(series, customMessage: $"/metrics has no {series}");
        // Every read model's lag, the async one's included.
        var lag = text.Split('\n').Where(l => l.StartsWith("ledger_projection_lag{", StringComparison.Ordinal)).ToList();
        foreach (var name in new[] { "Wallets", "UsageRollups", "Invoices", "Customers", "Plans" })
            lag.ShouldContain(l => l.Contains($"projection=\"{name}\"", StringComparison.Ordinal), $"no lag for {name}");

        // Prometheus's own linter on the ledger's series (./scripts/test.sh puts promtool on PATH).
        var ledger = string.Join('\n', text.Split('\n').Where(l => l.Contains("ledger_", StringComparison.Ordinal))) + "\n";
        ledger.ShouldNotContain("_milliseconds");
        var start = new ProcessStartInfo("promtool", ["check", "metrics"]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var promtool = Process.Start(start) ?? throw new InvalidOperationException("promtool is not on PATH: run the tests with ./scripts/test.sh");
        await promtool.StandardInput.WriteAsync(ledger);
        promtool.StandardInput.Close();
        var output = await promtool.StandardOutput.ReadToEndAsync() + await promtool.StandardError.ReadToEndAsync();
        await promtool.WaitForExitAsync();
        promtool.ExitCode.ShouldBe(0, output);
    }
}
