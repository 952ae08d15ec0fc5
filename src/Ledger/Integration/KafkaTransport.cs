using System.Text.Json;
using Confluent.Kafka;
using Ledger.Metering.Kafka;
using Wolverine;
using Wolverine.Kafka;

namespace Ledger.Integration;

/// <summary>
/// Outbound Kafka through Wolverine's transport: integration events to <c>ledger.events.v1</c>
/// as raw CloudEvents JSON (no Wolverine headers), keyed by customer, through the durable outbox.
/// Topics are not provisioned by the service (a Kafka admin creates them; the development broker
/// creates them on first use).
/// </summary>
public static class KafkaTransport
{
    public static void Configure(WolverineOptions options, KafkaSettings settings)
    {
        if (!settings.Enabled) return;
        options.UseKafka(settings.BootstrapServers!)
            .ConfigureProducers(producer =>
            {
                producer.EnableIdempotence = true;
                producer.Acks = Acks.All;
            });
        options.PublishMessage<LedgerCloudEvent>()
            .ToKafkaTopic(settings.EventsTopic)
            .PublishRawJson(new JsonSerializerOptions(JsonSerializerDefaults.Web))
            .UseDurableOutbox();
    }
}
