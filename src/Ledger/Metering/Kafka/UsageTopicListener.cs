using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using Ledger.Hosting;
using Ledger.Metering.Ingestion;
using Wolverine;

namespace Ledger.Metering.Kafka;

/// <summary>
/// Consumes <c>ledger.usage.v1</c> in the <c>ingest</c> role: <see cref="KafkaSettings.Consumers"/>
/// consumers in one consumer group, each owning the partitions the group assigns it (records are
/// keyed by customer, so each consumer owns its customers). Each consumer polls a batch, hands it
/// to the same <see cref="RecordUsage"/> handler as HTTP — same validation, dedup, rating and write
/// path — written in a transaction of its own, sends what cannot be recorded to the dead-letter
/// topic with the reason in headers, and commits the offsets only after that: at least once
/// delivery, an exactly-once effect (the dedup claim commits with the events).
/// Confluent.Kafka directly rather than Wolverine's listener: see docs/kafka.md.
/// </summary>
public sealed partial class UsageTopicListener(KafkaSettings settings, Wolverine.Runtime.IWolverineRuntime runtime, ILogger<UsageTopicListener> logger)
    : BackgroundService
{
    public const string ReasonHeader = "ledger-dlq-reason";

    private static readonly Counter<long> DeadLettered = Observability.Meter.CreateCounter<long>("ledger.usage.dead_lettered", "{event}",
        "Usage records sent to the dead-letter topic.");

    private static readonly Counter<long> Consumed = Observability.Meter.CreateCounter<long>("ledger.usage.kafka.consumed", "{record}",
        "Usage records consumed from Kafka and committed.");

    private readonly Dictionary<TopicPartition, (long High, long Committed)> _lag = new();

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Observability.Meter.CreateObservableGauge("ledger.usage.kafka.lag", () =>
        {
            lock (_lag) return _lag.Select(p => new Measurement<long>(Math.Max(0, p.Value.High - p.Value.Committed),
                new KeyValuePair<string, object?>("partition", p.Key.Partition.Value)));
        }, "{record}", "Records of the usage topic not yet committed by this node's consumers.");

        return Task.WhenAll(Enumerable.Range(0, settings.Consumers)
            .Select(i => Task.Factory.StartNew(() => RunConsumerAsync(i, stoppingToken), TaskCreationOptions.LongRunning).Unwrap()));
    }

    private async Task RunConsumerAsync(int index, CancellationToken stopping)
    {
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(settings.ProducerConfig()).Build();
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(settings.ConsumerConfig())
            .SetErrorHandler((_, e) => logger.LogWarning("Kafka consumer {Index}: {Reason}", index, e.Reason))
            .Build();
        consumer.Subscribe(settings.UsageTopic);
        logger.LogInformation("Consuming {Topic} as {Group} (consumer {Index} of {Count})", settings.UsageTopic, settings.GroupId, index + 1, settings.Consumers);

        try
        {
            while (!stopping.IsCancellationRequested)
            {
                var batch = Poll(consumer, stopping);
                if (batch.Count == 0) continue;
                await RecordAsync(batch, producer, stopping);
                consumer.Commit(batch.GroupBy(r => r.TopicPartition).Select(g => new TopicPartitionOffset(g.Key, g.Max(r => r.Offset.Value) + 1)));
                Consumed.Add(batch.Count);
                TrackLag(consumer, batch);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        finally
        {
            // Uncommitted records are delivered again to whichever consumer gets the partition: dedup absorbs them.
            consumer.Close();
        }
    }

    private List<ConsumeResult<byte[]?, byte[]?>> Poll(IConsumer<byte[]?, byte[]?> consumer, CancellationToken stopping)
    {
        var batch = new List<ConsumeResult<byte[]?, byte[]?>>();
        var first = consumer.Consume(TimeSpan.FromMilliseconds(500));
        if (first is null || first.IsPartitionEOF) return batch;
        batch.Add(first);
        var deadline = Stopwatch.GetTimestamp() + (long)(settings.BatchWait.TotalSeconds * Stopwatch.Frequency);
        while (batch.Count < settings.BatchSize && !stopping.IsCancellationRequested)
        {
            var wait = TimeSpan.FromSeconds(Math.Max(0, (double)(deadline - Stopwatch.GetTimestamp()) / Stopwatch.Frequency));
            var next = consumer.Consume(wait);
            if (next is null) break;
            if (!next.IsPartitionEOF) batch.Add(next);
        }

        return batch;
    }

    /// <summary>
    /// Records the batch. A record that cannot be read, or that validation refuses, goes to the
    /// dead-letter topic and the rest are recorded without it; an outage throws (nothing is
    /// committed, the batch comes again).
    /// </summary>
    private async Task RecordAsync(List<ConsumeResult<byte[]?, byte[]?>> batch, IProducer<byte[]?, byte[]?> producer, CancellationToken stopping)
    {
        var pending = new List<(ConsumeResult<byte[]?, byte[]?> Record, UsageEventInput Usage)>();
        var dead = new List<(ConsumeResult<byte[]?, byte[]?> Record, string Reason)>();
        foreach (var record in batch)
        {
            var (usage, reason) = UsageRecords.Read(record.Message.Value ?? []);
            if (usage is null) dead.Add((record, reason!));
            else pending.Add((record, usage));
        }

        var actor = new EventActor("kafka:" + settings.UsageTopic, ActivityTraceId.CreateRandom().ToHexString(), null);
        while (pending.Count > 0)
        {
            var result = await new Wolverine.Runtime.MessageBus(runtime).InvokeAsync<UsageResult>(new RecordUsage(pending.Select(p => (UsageEventInput?)p.Usage).ToList(), "kafka", actor, WriteAlone: true),
                stopping, TimeSpan.FromMinutes(2));
            if (result is UsageResult.Recorded) break;
            if (result is not UsageResult.Invalid invalid) throw new InvalidOperationException($"Unexpected usage result {result}.");

            var refused = invalid.Errors
                .Select(e => (Index: EventIndex(e.Key), Reason: $"{e.Key}: {string.Join(" ", e.Value)}"))
                .Where(e => e.Index is not null)
                .GroupBy(e => e.Index!.Value)
                .ToDictionary(g => g.Key, g => string.Join("; ", g.Select(e => e.Reason)));
            if (refused.Count == 0) throw new InvalidOperationException("Validation refused the batch without naming an event.");
            dead.AddRange(refused.Select(r => (pending[r.Key].Record, r.Value)));
            pending = pending.Where((_, i) => !refused.ContainsKey(i)).ToList();
        }

        foreach (var (record, reason) in dead)
        {
            var headers = new Headers
            {
                { ReasonHeader, Encoding.UTF8.GetBytes(reason) },
                { "ledger-dlq-topic", Encoding.UTF8.GetBytes(record.Topic) },
                { "ledger-dlq-partition", Encoding.UTF8.GetBytes(record.Partition.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)) },
                { "ledger-dlq-offset", Encoding.UTF8.GetBytes(record.Offset.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)) },
            };
            // Awaited: a record's offset is committed only once its dead letter is stored.
            await producer.ProduceAsync(settings.UsageDeadLetterTopic,
                new Message<byte[]?, byte[]?> { Key = record.Message.Key, Value = record.Message.Value, Headers = headers }, stopping);
            DeadLettered.Add(1);
            logger.LogWarning("Usage record {Topic}/{Partition}@{Offset} dead-lettered: {Reason}", record.Topic, record.Partition.Value, record.Offset.Value, reason);
        }
    }

    private void TrackLag(IConsumer<byte[]?, byte[]?> consumer, List<ConsumeResult<byte[]?, byte[]?>> batch)
    {
        foreach (var partition in batch.GroupBy(r => r.TopicPartition))
        {
            var high = consumer.GetWatermarkOffsets(partition.Key).High.Value;
            lock (_lag) _lag[partition.Key] = (high, partition.Max(r => r.Offset.Value) + 1);
        }
    }

    private static int? EventIndex(string key) => EventIndexPattern().Match(key) is { Success: true } m ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null;

    [GeneratedRegex(@"\Aevents\[(\d+)\]")]
    private static partial Regex EventIndexPattern();
}
