using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Ledger.Accounts;
using Ledger.Common;
using Ledger.Hosting;
using Ledger.Plans;
using Ledger.Wallets;
using Marten;
using Npgsql;

namespace Ledger.Metering.Ingestion;

public sealed record UsageOutcome(int Accepted, int Duplicates);

/// <summary>
/// Group commit for usage. Requests (HTTP or Kafka) validate their batch, then queue it here; one
/// writer drains everything queued and records it in a single PostgreSQL transaction:
/// dedup by (customer, event id) in the database, rating against the period's running totals,
/// one usage stream per batch, the debits on the write-side accounts (and, inline, on the wallet
/// view and the rollups). Each caller gets its own answer when the transaction commits. A group
/// that fails is split and retried in halves, so one bad batch cannot fail the others.
/// </summary>
public sealed class UsageWriter : BackgroundService
{
    public const int MaxEventsPerFlush = 20_000;

    private static readonly Counter<long> Recorded = Observability.Meter.CreateCounter<long>("ledger.usage.recorded", "{event}", "Usage events recorded.");
    private static readonly Counter<long> Duplicates = Observability.Meter.CreateCounter<long>("ledger.usage.duplicates", "{event}", "Usage events refused as duplicates.");
    private static readonly Histogram<double> FlushDuration = Observability.Meter.CreateHistogram<double>("ledger.usage.flush.duration", "s", "Time to record one group of usage batches.");

    private readonly Channel<PendingBatch> _queue = Channel.CreateBounded<PendingBatch>(new BoundedChannelOptions(1024)
    {
        SingleReader = false,
        FullMode = BoundedChannelFullMode.Wait,
    });

    private readonly int _writers;

    private readonly IDocumentStore _store;
    private readonly TimeProvider _clock;
    private readonly ILogger<UsageWriter> _logger;
    private readonly string _schema;
    private readonly IServiceProvider _services;

    public UsageWriter(IDocumentStore store, TimeProvider clock, ILogger<UsageWriter> logger, IConfiguration configuration,
        IServiceProvider services)
    {
        _services = services;
        // One writer by default (measured: a second one waits on the first's account rows). Should more
        // run, every lock is taken in one global order — claimed ids, account rows, running totals — so
        // concurrent writers cannot deadlock. (Kafka consumers write alone: RecordNowAsync.)
        _writers = int.TryParse(configuration["Ledger:Ingestion:Writers"], out var writers) && writers > 0 ? writers : 1;
        _store = store;
        _clock = clock;
        _logger = logger;
        _schema = store.Options.DatabaseSchemaName;
    }

    /// <summary>Records a validated batch; completes when it is committed (or has failed).</summary>
    public async Task<UsageOutcome> RecordAsync(IReadOnlyList<UsageToRecord> usage, EventActor actor, string source, CancellationToken cancellation)
    {
        if (usage.Count == 0) return new UsageOutcome(0, 0);
        var batch = new PendingBatch(usage, actor, source);
        await _queue.Writer.WriteAsync(batch, cancellation);
        return await batch.Completion.Task;
    }

    /// <summary>
    /// Records a batch in the caller's flow, in a transaction of its own, without the queue: for a
    /// caller that already holds a large batch and owns its customers — a Kafka consumer owns the
    /// partitions its customers are keyed to — so writers of different callers never wait on
    /// each other's rows.
    /// </summary>
    public async Task<UsageOutcome> RecordNowAsync(IReadOnlyList<UsageToRecord> usage, EventActor actor, string source)
    {
        if (usage.Count == 0) return new UsageOutcome(0, 0);
        var batch = new PendingBatch(usage, actor, source);
        await FlushWithFallbackAsync([batch], CancellationToken.None);
        return await batch.Completion.Task;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, _writers).Select(_ => Task.Run(DrainAsync, CancellationToken.None)));

    /// <summary>
    /// On shutdown no new batch is taken, and every batch already queued is still recorded (within
    /// the host's shutdown timeout), so no caller is left without an answer.
    /// </summary>
    public override Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        return base.StopAsync(cancellationToken);
    }

    private async Task DrainAsync()
    {
        var reader = _queue.Reader;
        var group = new List<PendingBatch>();
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            group.Clear();
            var events = 0;
            while (events < MaxEventsPerFlush && reader.TryRead(out var batch))
            {
                group.Add(batch);
                events += batch.Usage.Count;
            }

            await FlushWithFallbackAsync(group, CancellationToken.None);
        }
    }

    /// <summary>
    /// Validation keeps everything it can catch out of the database, so a group that still fails
    /// there is rare. Then the group is split in halves and each half tried again: a failing batch
    /// ends up alone in about log2(n) rounds while the healthy ones commit in a few transactions,
    /// never one batch at a time. When PostgreSQL itself is unavailable nothing is retried here:
    /// every caller gets the outage (503) at once.
    /// </summary>
    private async Task FlushWithFallbackAsync(List<PendingBatch> group, CancellationToken cancellation)
    {
        try
        {
            await FlushAsync(group, cancellation);
        }
        catch (Exception e) when (group.Count > 1 && e is not OperationCanceledException && !DatabaseOutage.IsOutage(e))
        {
            _logger.LogWarning("A group of {Count} usage batches failed ({Reason}); trying its halves apart", group.Count, e.GetType().Name);
            var half = group.Count / 2;
            await FlushWithFallbackAsync(group[..half], cancellation);
            await FlushWithFallbackAsync(group[half..], cancellation);
        }
        catch (Exception e)
        {
            if (DatabaseOutage.IsOutage(e)) _logger.LogWarning("Recording {Count} usage batches failed: {Reason}", group.Count, DatabaseOutage.Describe(e));
            else _logger.LogError(e, "Recording a usage batch failed");
            foreach (var batch in group) batch.Completion.TrySetException(e);
        }
    }

    private async Task FlushAsync(IReadOnlyList<PendingBatch> group, CancellationToken cancellation)
    {
        var started = Stopwatch.GetTimestamp();
        var now = _clock.GetUtcNow();

        // Within the group: the first copy of an id wins, in arrival order.
        var seen = new HashSet<(string, string)>();
        var candidates = new List<(PendingBatch Batch, UsageToRecord Usage)>();
        foreach (var batch in group)
        {
            foreach (var u in batch.Usage)
            {
                if (seen.Add((u.CustomerId, u.EventId))) candidates.Add((batch, u));
            }
        }

        await using var tx = await LedgerTransaction.BeginAsync(_store, cancellation);

        var fresh = await ClaimIdsAsync(tx, candidates.Select(c => c.Usage).ToList(), cancellation);
        var accepted = candidates.Where(c => fresh.Contains((c.Usage.CustomerId, c.Usage.EventId))).ToList();

        // The account rows, locked in one order (as every writer takes them), are the state the
        // decisions read: a close holds the same row, so which periods are closed cannot change
        // until this transaction ends.
        var accounts = await AccountTable.LockManyAsync(tx.Connection, _schema,
            accepted.Select(a => a.Usage.CustomerId).Distinct().ToArray(), cancellation);
        var billed = accepted.Select(a => (a.Batch, Usage: UsageRules.Bill(a.Usage, accounts[a.Usage.CustomerId]))).ToList();
        var usage = billed.Select(b => b.Usage).ToList();
        var charges = UsageRules.Rate(usage, await AddToPeriodTotalsAsync(tx, UsageRules.Quantities(usage), cancellation));

        // One session for the whole group: one round trip, one accounts UPDATE, one wallets UPDATE
        // and one rollups upsert. Each batch keeps its own actor and trace ids, carried on its events.
        var session = tx.Session;
        foreach (var batchEvents in billed.Select((b, i) => (b.Batch, Event: UsageRules.ToEvent(b.Usage, charges[i], b.Batch.Source, now)))
                     .GroupBy(r => r.Batch))
        {
            var actor = batchEvents.Key.Actor;
            session.Events.Append(UsageStreams.NewKey(), batchEvents.Select(r => (object)actor.Stamp(session.Events.BuildEvent(r.Event))).ToArray());
        }

        var charged = usage.Select((u, i) => (u.CustomerId, Charge: charges[i]))
            .GroupBy(c => c.CustomerId, StringComparer.Ordinal)
            .Select(g => (g.Key, g.Sum(c => c.Charge), (long)g.Count()))
            .ToList();
        AccountTable.ChargeUsage(session, _schema, charged);

        // A wallet that usage takes below its threshold or below zero is announced once per crossing,
        // through the outbox in this transaction (sent once it commits).
        var crossings = charged.SelectMany(c =>
        {
            var before = accounts[c.Item1];
            return Integration.IntegrationEvents.Crossings(before, before.Charge(new Money(c.Item2, before.Currency), c.Item3), now);
        }).ToList();
        using var scope = crossings.Count > 0 ? _services.CreateScope() : null;
        if (scope is not null)
        {
            var outbox = scope.ServiceProvider.GetRequiredService<Wolverine.Marten.IMartenOutbox>();
            outbox.Enroll(session);
            foreach (var crossing in crossings) await outbox.PublishAsync(Integration.IntegrationEvents.Counted(crossing), Integration.IntegrationEvents.Keyed(crossing));
        }

        await tx.CommitAsync(cancellation);

        var recordedPerBatch = accepted.CountBy(a => a.Batch).ToDictionary(c => c.Key, c => c.Value);
        foreach (var batch in group)
        {
            var recorded = recordedPerBatch.GetValueOrDefault(batch);
            batch.Completion.TrySetResult(new UsageOutcome(recorded, batch.Usage.Count - recorded));
            Recorded.Add(recorded);
            Duplicates.Add(batch.Usage.Count - recorded);
        }

        FlushDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    /// <summary>Inserts the ids into the dedup table; returns those that were not there yet.</summary>
    private async Task<HashSet<(string, string)>> ClaimIdsAsync(LedgerTransaction tx, IReadOnlyList<UsageToRecord> usage, CancellationToken cancellation)
    {
        var fresh = new HashSet<(string, string)>();
        if (usage.Count == 0) return fresh;
        var ordered = usage.OrderBy(u => u.CustomerId, StringComparer.Ordinal).ThenBy(u => u.EventId, StringComparer.Ordinal).ToList();

        await using var command = tx.Command(
            $"insert into {_schema}.{MeteringSchema.UsageIds} (customer_id, event_id) " +
            "select * from unnest($1::text[], $2::text[]) on conflict do nothing returning customer_id, event_id");
        command.Parameters.Add(new NpgsqlParameter { Value = ordered.Select(u => u.CustomerId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = ordered.Select(u => u.EventId).ToArray() });
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation)) fresh.Add((reader.GetString(0), reader.GetString(1)));
        return fresh;
    }

    /// <summary>
    /// Adds the group's quantities to the period running totals (write-side rows, locked until
    /// commit, taken in one order) and returns each total as it was before them.
    /// </summary>
    private async Task<Dictionary<(string Customer, string Meter, string Period), decimal>> AddToPeriodTotalsAsync(LedgerTransaction tx,
        Dictionary<(string Customer, string Meter, string Period), decimal> quantities, CancellationToken cancellation)
    {
        var before = new Dictionary<(string, string, string), decimal>();
        if (quantities.Count == 0) return before;

        var keys = quantities.Keys
            .OrderBy(k => k.Customer, StringComparer.Ordinal).ThenBy(k => k.Meter, StringComparer.Ordinal).ThenBy(k => k.Period, StringComparer.Ordinal)
            .ToList();

        await using var command = tx.Command(
            $"insert into {_schema}.{MeteringSchema.PeriodTotals} as t (customer_id, meter, period, quantity) " +
            "select * from unnest($1::text[], $2::text[], $3::text[], $4::numeric[]) " +
            "on conflict (customer_id, meter, period) do update set quantity = t.quantity + excluded.quantity " +
            "returning customer_id, meter, period, quantity");
        command.Parameters.Add(new NpgsqlParameter { Value = keys.Select(k => k.Customer).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = keys.Select(k => k.Meter).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = keys.Select(k => k.Period).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = keys.Select(k => quantities[k]).ToArray() });

        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation))
        {
            var key = (reader.GetString(0), reader.GetString(1), reader.GetString(2));
            before[key] = reader.GetDecimal(3) - quantities[key];
        }

        return before;
    }

    private sealed class PendingBatch(IReadOnlyList<UsageToRecord> usage, EventActor actor, string source)
    {
        public IReadOnlyList<UsageToRecord> Usage { get; } = usage;
        public EventActor Actor { get; } = actor;
        public string Source { get; } = source;
        public TaskCompletionSource<UsageOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

public static class UsageStreams
{
    /// <summary>A usage stream per accepted batch; time-ordered keys keep the stream table's index append-only.</summary>
    public static string NewKey() => "usage/" + Guid.CreateVersion7().ToString("N");
}
