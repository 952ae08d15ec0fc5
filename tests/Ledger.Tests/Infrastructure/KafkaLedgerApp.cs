using System.Net.Http.Headers;
using Alba;
using Confluent.Kafka;
using Ledger.Hosting;

namespace Ledger.Tests.Infrastructure;

/// <summary>
/// A host of the ledger with Kafka bridging on, against the Kafka-protocol broker scripts/test.sh
/// starts (librdkafka's mock cluster, LEDGER_TEST_KAFKA), with topics and a consumer group of its
/// own, in a schema of its own.
/// </summary>
public sealed class KafkaLedgerApp : IAsyncLifetime
{
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];

    public IAlbaHost Host { get; private set; } = null!;

    public string Schema => "k_" + _suffix;

    public string UsageTopic => "usage-" + _suffix;

    public string DeadLetterTopic => "usage-dlq-" + _suffix;

    public string EventsTopic => "events-" + _suffix;

    public static string Bootstrap =>
        Environment.GetEnvironmentVariable("LEDGER_TEST_KAFKA")
        ?? throw new InvalidOperationException("Run the tests with ./scripts/test.sh (it starts a Kafka-protocol broker and sets LEDGER_TEST_KAFKA).");

    public async ValueTask InitializeAsync()
    {
        // The mock cluster creates a topic (4 partitions) when asked for its metadata.
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = Bootstrap }).Build())
        {
            foreach (var topic in new[] { UsageTopic, DeadLetterTopic, EventsTopic })
            {
                for (var attempt = 0; attempt < 50 && admin.GetMetadata(topic, TimeSpan.FromSeconds(5)).Topics.Single().Partitions.Count == 0; attempt++)
                {
                    await Task.Delay(100);
                }
            }
        }

        Host = await LedgerApp.StartHostAsync(LedgerApp.ConnectionString, Schema, "api,ingest,projections", new Dictionary<string, string>
        {
            ["Ledger:Kafka:BootstrapServers"] = Bootstrap,
            ["Ledger:Kafka:GroupId"] = "ledger-" + _suffix,
            ["Ledger:Kafka:Topics:Usage"] = UsageTopic,
            ["Ledger:Kafka:Topics:UsageDeadLetter"] = DeadLetterTopic,
            ["Ledger:Kafka:Topics:Events"] = EventsTopic,
            ["Ledger:Kafka:Consumers"] = "2",
        });
    }

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();

    public HttpClient Client()
    {
        var client = Host.Server.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", LedgerApp.Token(Scopes.Admin));
        return client;
    }

    /// <summary>Produces records (key = customer id) and waits until the broker has them.</summary>
    public async Task ProduceAsync(string topic, params (string Key, string Value)[] records)
    {
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = Bootstrap, LingerMs = 0 }).Build();
        foreach (var (key, value) in records) await producer.ProduceAsync(topic, new Message<string, string> { Key = key, Value = value });
    }

    /// <summary>
    /// Reads a topic from the start until <paramref name="count"/> records with the given key
    /// arrived (or 20 s passed), then one more second, so that an extra record would be seen too.
    /// </summary>
    public List<ConsumeResult<string, string>> ReadTopic(string topic, int count, string? key = null)
    {
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = Bootstrap, GroupId = "reader-" + Guid.NewGuid().ToString("N"), AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false, FetchWaitMaxMs = 10, SessionTimeoutMs = 6000, HeartbeatIntervalMs = 1500,
        }).Build();
        consumer.Subscribe(topic);
        var records = new List<ConsumeResult<string, string>>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        DateTime? settled = null;
        while (DateTime.UtcNow < (settled ?? deadline))
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { IsPartitionEOF: false } record && (key is null || record.Message.Key == key))
            {
                records.Add(record);
            }

            if (records.Count >= count && settled is null) settled = DateTime.UtcNow.AddSeconds(1);
        }

        consumer.Close();
        return records;
    }
}

[CollectionDefinition(Name)]
public sealed class KafkaCollection : ICollectionFixture<KafkaLedgerApp>
{
    public const string Name = "kafka";
}
