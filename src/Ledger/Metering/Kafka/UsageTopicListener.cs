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

    private static readonly Counter<long> Failures = Observability.Meter.CreateCounter<long>("ledger.usage.kafka.consumer_restarts", "{restart}",
        "Usage consumers closed after a failure and opened again from the committed offsets.");

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

    /// <summary>
    /// One consumer, for as long as the service runs. Whatever fails — PostgreSQL away, the broker
    /// away, a rebalance under a commit — the consumer is closed without committing and opened
    /// again after a pause: it resumes from the last committed offsets, so the batch in hand is
    /// delivered again and the dedup claims absorb what of it was already recorded. Nothing is
    /// skipped, and the rest of the service keeps serving.
    /// </summary>
    private async Task RunConsumerAsync(int index, CancellationToken stopping)
    {
        var pause = TimeSpan.FromSeconds(1);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await ConsumeUntilFailureAsync(index, stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning("Kafka consumer {Index} stopped ({Reason}); resuming from the committed offsets in {Seconds:0} s",
                    index, DatabaseOutage.IsOutage(e) ? DatabaseOutage.Describe(e) : e.GetType().Name + ": " + e.Message, pause.TotalSeconds);
                Failures.Add(1);
                await Task.Delay(pause + TimeSpan.FromMilliseconds(Random.Shared.Next(250)), stopping).ContinueWith(_ => { }, CancellationToken.None);
                pause = TimeSpan.FromSeconds(Math.Min(30, pause.TotalSeconds * 2));
            }
        }
    }

    private async Task ConsumeUntilFailureAsync(int index, CancellationToken stopping)
    {
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(settings.ProducerConfig()).Build();
        var revoked = new HashSet<TopicPartition>();
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(settings.ConsumerConfig())
            .SetErrorHandler((_, e) => logger.LogWarning("Kafka consumer {Index}: {Reason}", index, e.Reason))
            .SetPartitionsRevokedHandler((_, partitions) =>
            {
                lock (revoked) foreach (var p in partitions) revoked.Add(p.TopicPartition);
                lock (_lag) foreach (var p in partitions) _lag.Remove(p.TopicPartition);
            })
            .SetPartitionsAssignedHandler((_, partitions) =>
            {
                lock (revoked) foreach (var p in partitions) revoked.Remove(p);
            })
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

                // Only partitions this consumer still owns: a revoked one's records are durable, and its
                // new owner reads them again from the last commit (the dedup claims absorb them).
                List<TopicPartitionOffset> offsets;
                lock (revoked)
                {
                    offsets = batch.GroupBy(r => r.TopicPartition).Where(g => !revoked.Contains(g.Key))
                        .Select(g => new TopicPartitionOffset(g.Key, g.Max(r => r.Offset.Value) + 1)).ToList();
                }

                if (offsets.Count > 0) consumer.Commit(offsets);
                Consumed.Add(batch.Count);
                TrackLag(consumer, batch);
            }
        }
        finally
        {
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
        await RecordOrSplitAsync(pending, dead, actor, stopping);

        // Every dead letter acknowledged by the broker before the batch's offsets are committed.
        var failed = new List<string>();
        foreach (var (record, reason) in dead)
        {
            producer.Produce(settings.UsageDeadLetterTopic, new Message<byte[]?, byte[]?>
            {
                Key = record.Message.Key, Value = record.Message.Value, Headers = DeadLetterHeaders(record, reason),
            }, report =>
            {
                if (report.Error.IsError) lock (failed) failed.Add(report.Error.Reason);
            });
            logger.LogWarning("Usage record {Topic}/{Partition}@{Offset} dead-lettered: {Reason}", record.Topic, record.Partition.Value, record.Offset.Value, reason);
        }

        if (dead.Count > 0)
        {
            producer.Flush(stopping);
            if (failed.Count > 0) throw new KafkaException(new Error(ErrorCode.Local_Fail, "Dead letters not delivered: " + failed[0]));
            DeadLettered.Add(dead.Count);
        }
    }

    /// <summary>
    /// Records what validation accepts; what it refuses goes to <paramref name="dead"/>. A write
    /// that fails in the database for a reason other than an outage (something validation could
    /// not catch) is split in halves and tried again, so the one record that fails is dead-lettered
    /// with the reason and the rest are recorded — a partition is never blocked by one record.
    /// </summary>
    private async Task RecordOrSplitAsync(List<(ConsumeResult<byte[]?, byte[]?> Record, UsageEventInput Usage)> pending,
        List<(ConsumeResult<byte[]?, byte[]?> Record, string Reason)> dead, EventActor actor, CancellationToken stopping)
    {
        while (pending.Count > 0)
        {
            UsageResult result;
            try
            {
                result = await new Wolverine.Runtime.MessageBus(runtime).InvokeAsync<UsageResult>(
                    new RecordUsage(pending.Select(p => (UsageEventInput?)p.Usage).ToList(), "kafka", actor, WriteAlone: true), stopping, TimeSpan.FromMinutes(2));
            }
            catch (Exception e) when (e is not OperationCanceledException && !DatabaseOutage.IsOutage(e))
            {
                if (pending.Count == 1)
                {
                    dead.Add((pending[0].Record, $"Recording failed: {e.GetType().Name}."));
                    return;
                }

                var half = pending.Count / 2;
                await RecordOrSplitAsync(pending[..half], dead, actor, stopping);
                await RecordOrSplitAsync(pending[half..], dead, actor, stopping);
                return;
            }

            if (result is UsageResult.Recorded) return;
            var refused = result is UsageResult.Invalid invalid
                ? invalid.Errors
                    .Select(e => (Index: EventIndex(e.Key), Reason: $"{e.Key}: {string.Join(" ", e.Value)}"))
                    .Where(e => e.Index is not null)
                    .GroupBy(e => e.Index!.Value)
                    .ToDictionary(g => g.Key, g => string.Join("; ", g.Select(e => e.Reason)))
                : [];
            if (refused.Count == 0)
            {
                // Refused as a whole without naming a record: each record alone finds the culprit.
                if (pending.Count == 1)
                {
                    dead.Add((pending[0].Record, $"Refused: {result}."));
                    return;
                }

                foreach (var one in pending) await RecordOrSplitAsync([one], dead, actor, stopping);
                return;
            }

            dead.AddRange(refused.Select(r => (pending[r.Key].Record, r.Value)));
            pending = pending.Where((_, i) => !refused.ContainsKey(i)).ToList();
        }
    }

    private static Headers DeadLetterHeaders(ConsumeResult<byte[]?, byte[]?> record, string reason)
    {
        var headers = new Headers();
        foreach (var header in record.Message.Headers ?? []) headers.Add(header.Key, header.GetValueBytes());
        headers.Add(ReasonHeader, Encoding.UTF8.GetBytes(reason));
        headers.Add("ledger-dlq-topic", Encoding.UTF8.GetBytes(record.Topic));
        headers.Add("ledger-dlq-partition", Encoding.UTF8.GetBytes(record.Partition.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        headers.Add("ledger-dlq-offset", Encoding.UTF8.GetBytes(record.Offset.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return headers;
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
