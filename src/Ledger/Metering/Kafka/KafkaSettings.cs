using Confluent.Kafka;

namespace Ledger.Metering.Kafka;

/// <summary>
/// <c>Ledger:Kafka:*</c>: Kafka is on when <see cref="BootstrapServers"/> is set. Topic names and the
/// consumer group default to the contract's (docs/kafka.md).
/// </summary>
public sealed record KafkaSettings(
    string? BootstrapServers,
    string GroupId,
    GroupProtocol GroupProtocol,
    string UsageTopic,
    string UsageDeadLetterTopic,
    string EventsTopic,
    int Consumers,
    int BatchSize,
    TimeSpan BatchWait)
{
    public bool Enabled => !string.IsNullOrWhiteSpace(BootstrapServers);

    public static KafkaSettings From(IConfiguration configuration)
    {
        var kafka = configuration.GetSection("Ledger:Kafka");
        return new KafkaSettings(
            kafka["BootstrapServers"],
            kafka["GroupId"] ?? "ledger",
            string.Equals(kafka["GroupProtocol"], "consumer", StringComparison.OrdinalIgnoreCase) ? GroupProtocol.Consumer : GroupProtocol.Classic,
            kafka["Topics:Usage"] ?? "ledger.usage.v1",
            kafka["Topics:UsageDeadLetter"] ?? "ledger.usage.v1.dlq",
            kafka["Topics:Events"] ?? "ledger.events.v1",
            int.TryParse(kafka["Consumers"], out var consumers) && consumers > 0 ? consumers : 1,
            int.TryParse(kafka["BatchSize"], out var batch) && batch is > 0 and <= Ingestion.UsageValidation.MaxEventsPerBatch ? batch : Ingestion.UsageValidation.MaxEventsPerBatch,
            TimeSpan.FromMilliseconds(int.TryParse(kafka["BatchWaitMs"], out var wait) && wait >= 0 ? wait : 50));
    }

    public ConsumerConfig ConsumerConfig() => new()
    {
        BootstrapServers = BootstrapServers,
        GroupId = GroupId,
        GroupProtocol = GroupProtocol,
        // Offsets are committed by the ledger, only after the batch is durable in PostgreSQL.
        EnableAutoCommit = false,
        EnableAutoOffsetStore = false,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        FetchWaitMaxMs = 10,
        SessionTimeoutMs = GroupProtocol == GroupProtocol.Classic ? 6000 : null,
        HeartbeatIntervalMs = GroupProtocol == GroupProtocol.Classic ? 1500 : null,
    };

    public ProducerConfig ProducerConfig() => new()
    {
        BootstrapServers = BootstrapServers,
        EnableIdempotence = true,
        Acks = Acks.All,
        LingerMs = 5,
    };
}
