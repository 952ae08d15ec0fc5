using System.Net;
using System.Text.Json.Nodes;
using Ledger.Tests.Infrastructure;
using Ledger.Tests.Metering;

namespace Ledger.Tests.Wallets;

/// <summary>
/// Integration events on <c>ledger.events.v1</c>, read back from the broker as a downstream
/// consumer would: CloudEvents keyed by customer, one per fact, once per threshold crossing.
/// </summary>
[Collection(KafkaCollection.Name)]
public class IntegrationEventTests(KafkaLedgerApp app)
{
    private readonly HttpClient _client = app.Client();

    [Fact]
    public async Task A_top_up_and_a_debit_publish_exactly_one_cloud_event_each_and_a_replay_none()
    {
        var customer = await _client.NewCustomerAsync(threshold: "10.00");
        await _client.TopUpAsync(customer, "500.00", id: "tu-1");
        (await _client.PostJson($"/v1/wallets/{customer}/top-ups", """{ "id": "tu-1", "amount": "500.00", "reference": "pay" }""")).Status.ShouldBe(HttpStatusCode.OK);
        (await _client.PostJson($"/v1/wallets/{customer}/debits", """{ "id": "db-1", "amount": "25.00", "reason": "setup fee" }""")).Status
            .ShouldBe(HttpStatusCode.Created);

        var events = app.ReadTopic(app.EventsTopic, 2, key: customer).Select(r => JsonNode.Parse(r.Message.Value)!).ToList();

        events.Select(e => e.Str("type")).ShouldBe(["ledger.wallet.topped_up", "ledger.wallet.debited"]);
        var toppedUp = events[0];
        (toppedUp.Str("specversion"), toppedUp.Str("subject"), toppedUp.Str("id")).ShouldBe(("1.0", customer, $"ledger.wallet.topped_up/{customer}/tu-1"));
        toppedUp.Str("datacontenttype").ShouldBe("application/json");
        (toppedUp["data"].Str("amount"), toppedUp["data"].Str("balance"), toppedUp["data"]!["version"]!.GetValue<long>()).ShouldBe(("500.00", "500.000000", 2L));
        events[1]["data"].Str("balance").ShouldBe("475.000000");
    }

    [Fact]
    public async Task Usage_that_crosses_the_threshold_and_then_zero_announces_each_crossing_once()
    {
        var customer = await _client.NewCustomerAsync(threshold: "10.00", creditLimit: "0.00");
        await _client.TopUpAsync(customer, "11.50");
        var now = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm:ssZ");

        // 11.50 → 10.35 (above 10.00: nothing), → 9.20 (low), → −2.30 (overdrawn, and still low: no second low).
        await _client.RecordUsageAsync(UsageApi.Batch(UsageApi.Event("u-1", customer, "otp.whatsapp", "10", now)));
        await _client.RecordUsageAsync(UsageApi.Batch(UsageApi.Event("u-2", customer, "otp.whatsapp", "10", now)));
        await _client.RecordUsageAsync(UsageApi.Batch(UsageApi.Event("u-3", customer, "otp.whatsapp", "100", now)));

        var events = app.ReadTopic(app.EventsTopic, 3, key: customer).Select(r => JsonNode.Parse(r.Message.Value)!).ToList();

        events.Select(e => e.Str("type")).ShouldBe(["ledger.wallet.topped_up", "ledger.wallet.low_balance", "ledger.wallet.overdrawn"]);
        events[1]["data"].Str("balance").ShouldBe("9.200000");
        events[2]["data"].Str("balance").ShouldBe("-2.300000");
    }

    [Fact]
    public async Task Closing_a_period_publishes_the_invoice()
    {
        var customer = await _client.NewCustomerAsync();
        (await _client.PostJson($"/v1/billing/periods/2026-10/close?customerId={customer}", "{}")).Status.ShouldBe(HttpStatusCode.OK);

        var issued = app.ReadTopic(app.EventsTopic, 1, key: customer).Select(r => JsonNode.Parse(r.Message.Value)!).Single();

        issued.Str("type").ShouldBe("ledger.invoice.issued");
        issued["data"].Str("id").ShouldBe($"INV-2026-10-{customer}");
        issued["data"].Str("total").ShouldBe("0.00");
        issued["data"].Str("pdfSha256").Length.ShouldBe(64);
    }

    [Fact]
    public async Task With_the_broker_frozen_the_event_waits_in_the_outbox_and_is_delivered_once_it_resumes()
    {
        var broker = int.Parse(Environment.GetEnvironmentVariable("LEDGER_TEST_KAFKA_PID")
                               ?? throw new InvalidOperationException("Run the tests with ./scripts/test.sh (LEDGER_TEST_KAFKA_PID)."),
            System.Globalization.CultureInfo.InvariantCulture);
        var customer = await _client.NewCustomerAsync();

        await SignalAsync("STOP", broker);
        try
        {
            // The ledger does not wait for Kafka: the top-up commits, its event waits in the outbox table.
            var started = System.Diagnostics.Stopwatch.StartNew();
            await _client.TopUpAsync(customer, "42.00", id: "frozen-1");
            started.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(5));
            await Task.Delay(1000);
            (await OutboxRowsAsync()).ShouldBeGreaterThan(0);
        }
        finally
        {
            await SignalAsync("CONT", broker);
        }

        var events = app.ReadTopic(app.EventsTopic, 1, key: customer);
        events.Count.ShouldBe(1);
        JsonNode.Parse(events[0].Message.Value).Str("id").ShouldBe($"ledger.wallet.topped_up/{customer}/frozen-1");
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (await OutboxRowsAsync() > 0 && DateTime.UtcNow < deadline) await Task.Delay(200);
        (await OutboxRowsAsync()).ShouldBe(0);
    }

    private async Task<long> OutboxRowsAsync()
    {
        await using var connection = new Npgsql.NpgsqlConnection(LedgerApp.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"select count(*) from {app.Schema}.wolverine_outgoing_envelopes";
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task SignalAsync(string signal, int pid)
    {
        using var kill = System.Diagnostics.Process.Start("kill", [$"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync();
        kill.ExitCode.ShouldBe(0);
    }
}
