using System.Net;
using System.Text;
using Ledger.Metering.Kafka;
using Ledger.Tests.Infrastructure;
using Marten;
using Marten.Events;
using Microsoft.Extensions.DependencyInjection;

namespace Ledger.Tests.Metering;

/// <summary>
/// Usage through <c>ledger.usage.v1</c>, against a real Kafka-protocol broker (librdkafka's mock
/// cluster) and the real consumer: recorded once, whichever path and order an id takes; poison
/// records go to the dead-letter topic with the reason, and the records after them are recorded.
/// </summary>
[Collection(KafkaCollection.Name)]
public class KafkaIngestionTests(KafkaLedgerApp app)
{
    private readonly HttpClient _client = app.Client();

    private static readonly string Now = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm:ssZ");

    [Fact]
    public async Task Usage_produced_to_the_topic_is_recorded_once_in_balances_and_rollups()
    {
        var customer = await _client.NewCustomerAsync();
        await _client.TopUpAsync(customer, "100.00");
        var records = Enumerable.Range(0, 40)
            .Select(i => (customer, UsageApi.Event($"k-{i}", customer, "otp.whatsapp", "1", Now, country: "IN")))
            .Concat(Enumerable.Range(0, 10).Select(i => (customer,
                $$"""{ "specversion": "1.0", "id": "ce-{{i}}", "source": "sms-gw", "type": "otp.whatsapp", "subject": "{{customer}}", "time": "{{Now}}", "data": { "quantity": "2" } }""")))
            .ToList();
        // Every record twice: delivery is at least once, the effect exactly once.
        await app.ProduceAsync(app.UsageTopic, [.. records, .. records]);

        await UntilAsync(async () => await UsageCountAsync(customer) == 50);
        await Task.Delay(500); // the duplicates have had their chance to be recorded twice

        (await UsageCountAsync(customer)).ShouldBe(50);
        // 100 − (40 × 1 + 10 × 2) × 0.115
        (await _client.WalletAsync(customer)).Str("balance").ShouldBe("93.100000");
        // The rollups are the async daemon's: read once it has caught up.
        await app.Host.WaitForNonStaleProjectionDataAsync(TimeSpan.FromSeconds(30));
        var (status, usage) = await _client.GetJson(
            $"/v1/customers/{customer}/usage?from={DateTimeOffset.UtcNow.AddYears(-1):yyyy-MM-01T00:00:00Z}&to={DateTimeOffset.UtcNow.AddMonths(2):yyyy-MM-01T00:00:00Z}&granularity=month&meter=otp.whatsapp");
        status.ShouldBe(HttpStatusCode.OK);
        usage!["buckets"]!.AsArray().Sum(b => decimal.Parse(b.Str("quantity"), System.Globalization.CultureInfo.InvariantCulture)).ShouldBe(60m);
    }

    [Fact]
    public async Task The_same_event_id_over_http_and_kafka_in_either_order_or_at_once_is_counted_once()
    {
        var customer = await _client.NewCustomerAsync();

        // HTTP first, then Kafka.
        await _client.RecordUsageAsync(UsageApi.Batch(UsageApi.Event("both-1", customer, "otp.sms", "1", Now)));
        await app.ProduceAsync(app.UsageTopic, (customer, UsageApi.Event("both-1", customer, "otp.sms", "1", Now)));
        // Kafka first, then HTTP (which answers it as a duplicate).
        await app.ProduceAsync(app.UsageTopic, (customer, UsageApi.Event("both-2", customer, "otp.sms", "1", Now)));
        await UntilAsync(async () => await UsageCountAsync(customer) == 2);
        (await _client.RecordUsageAsync(UsageApi.Batch(UsageApi.Event("both-2", customer, "otp.sms", "1", Now)))).ShouldBe((0, 1));
        // Both at once.
        var produce = app.ProduceAsync(app.UsageTopic, (customer, UsageApi.Event("both-3", customer, "otp.sms", "1", Now)));
        var post = _client.RecordUsageAsync(UsageApi.Batch(UsageApi.Event("both-3", customer, "otp.sms", "1", Now)));
        await Task.WhenAll(produce, post);

        await UntilAsync(async () => await UsageCountAsync(customer) == 3);
        await Task.Delay(1000);
        (await UsageCountAsync(customer)).ShouldBe(3);
        await using var session = app.Host.Services.GetRequiredService<IDocumentStore>().QuerySession();
        var sources = await session.Events.QueryRawEventDataOnly<Ledger.Metering.UsageRecorded>().Where(u => u.CustomerId == customer).ToListAsync();
        sources.Single(u => u.EventId == "both-1").Source.ShouldBe("http");
        sources.Single(u => u.EventId == "both-2").Source.ShouldBe("kafka");
    }

    [Fact]
    public async Task A_poison_record_goes_to_the_dead_letter_topic_with_its_reason_and_the_records_after_it_are_recorded()
    {
        var customer = await _client.NewCustomerAsync();
        var poison = new[]
        {
            (customer, "this is not json"),
            (customer, UsageApi.Event("p-unknown", "nobody-" + Guid.NewGuid().ToString("N")[..6], "otp.sms", "1", Now)),
            (customer, UsageApi.Event("p-negative", customer, "otp.sms", "-3", Now)),
            (customer, """{ "id": "p-nul", "customerId": "x\u0000", "meter": "otp.sms", "quantity": "1", "occurredAt": "2026-11-01T00:00:00Z" }"""),
        };
        // A plain usage event with a dimension named like a CloudEvent attribute is still a plain usage event.
        var lookalike = $$"""{ "id": "ok-3", "customerId": "{{customer}}", "meter": "otp.sms", "quantity": "1", "occurredAt": "{{Now}}", "dimensions": { "specversion": "1.0" } }""";
        await app.ProduceAsync(app.UsageTopic,
            [(customer, UsageApi.Event("ok-1", customer, "otp.sms", "1", Now)), .. poison, (customer, UsageApi.Event("ok-2", customer, "otp.sms", "1", Now)), (customer, lookalike)]);

        await UntilAsync(async () => await UsageCountAsync(customer) == 3);
        var dead = app.ReadTopic(app.DeadLetterTopic, 4, key: customer);

        (await UsageCountAsync(customer)).ShouldBe(3);
        dead.Select(r => r.Message.Value).Order().ShouldBe(poison.Select(p => p.Item2).Order());
        var reasons = dead.ToDictionary(r => r.Message.Value, r => Encoding.UTF8.GetString(r.Message.Headers.GetLastBytes(UsageTopicListener.ReasonHeader)));
        reasons["this is not json"].ShouldStartWith("Not a valid usage event:");
        reasons[poison[1].Item2].ShouldContain("customerId: No customer");
        reasons[poison[2].Item2].ShouldContain("quantity");
        reasons[poison[3].Item2].ShouldContain("control characters");
        foreach (var record in dead) Encoding.UTF8.GetString(record.Message.Headers.GetLastBytes("ledger-dlq-topic")).ShouldBe(app.UsageTopic);
    }

    private async Task<int> UsageCountAsync(string customer)
    {
        await using var session = app.Host.Services.GetRequiredService<IDocumentStore>().QuerySession();
        return await session.Events.QueryRawEventDataOnly<Ledger.Metering.UsageRecorded>().Where(u => u.CustomerId == customer).CountAsync();
    }

    private static async Task UntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition() && DateTime.UtcNow < deadline) await Task.Delay(100);
    }
}
