using JasperFx.Events.Daemon;
using Marten;
using Npgsql;

namespace Ledger.Operations;

/// <summary>
/// Where the async daemon has got to with each read model it keeps, against the event store's
/// high-water mark, as <c>mt_event_progression</c> holds it — so any node answers, whichever node
/// runs the daemon. Refreshed every few seconds into the <c>ledger_projection_lag</c> gauge.
/// </summary>
public sealed class DaemonProgress(IDocumentStore store, NpgsqlDataSource dataSource, ReadModels models, ILogger<DaemonProgress> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The high-water mark (the last committed event: one backward step on the sequence index, not
    /// Marten's statistics, which count every event and stream — this runs every few seconds on
    /// every node), and each async read model's position (0 before the daemon first ran it), in one
    /// round trip.
    /// </summary>
    public async Task<(long HighWaterMark, Dictionary<string, long> Positions)> ReadAsync(CancellationToken cancellation)
    {
        var schema = store.Options.Events.DatabaseSchemaName;
        await using var command = dataSource.CreateCommand(
            $"select (select coalesce(max(seq_id), 0) from {schema}.mt_events), " +
            $"(select coalesce(array_agg(name), '{{}}') from {schema}.mt_event_progression), " +
            $"(select coalesce(array_agg(last_seq_id), '{{}}') from {schema}.mt_event_progression)");
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        await reader.ReadAsync(cancellation);
        var highWaterMark = reader.GetInt64(0);
        var byShard = reader.GetFieldValue<string[]>(1).Zip(reader.GetFieldValue<long[]>(2))
            .ToDictionary(p => p.First, p => p.Second, StringComparer.OrdinalIgnoreCase);
        var positions = models.All.Where(m => m.Async)
            .ToDictionary(m => m.Name, m => byShard.GetValueOrDefault(m.ShardName), StringComparer.OrdinalIgnoreCase);
        return (highWaterMark, positions);
    }

    /// <summary>
    /// The node running the async daemon's agent for a read model, or null when none does: with
    /// HotCold each agent runs where its PostgreSQL advisory lock is held, and each node stamps its
    /// name on its connections (<c>application_name</c>, <see cref="Hosting.LedgerHost.NodeName"/>).
    /// The lock id is Marten's own, from the schema and the shard.
    /// </summary>
    public async Task<string?> NodeRunningAsync(ReadModel model, CancellationToken cancellation)
    {
        var options = (StoreOptions)store.Options;
        var shard = options.Projections.AllShards().Select(s => s.Name).FirstOrDefault(n => n.Identity == model.ShardName);
        if (shard is null) return null;
        var lockId = ProjectionLockIds.Compute(options.Events.DatabaseSchemaName, shard, options.Projections.DaemonLockId);
        // pg_locks shows the 64-bit advisory key as two 32-bit halves (a negative id sign-extends);
        // objsubid 1 marks a single 64-bit key (2 would be a pair of 32-bit keys).
        await using var command = dataSource.CreateCommand(
            "select coalesce(a.application_name, '') from pg_locks l left join pg_stat_activity a on a.pid = l.pid " +
            "where l.locktype = 'advisory' and l.granted and l.database = (select oid from pg_database where datname = current_database()) " +
            "and l.classid = $1::bigint::oid and l.objid = $2::bigint::oid and l.objsubid = 1 limit 1");
        command.Parameters.Add(new NpgsqlParameter { Value = lockId < 0 ? 0xFFFFFFFFL : 0L });
        command.Parameters.Add(new NpgsqlParameter { Value = (long)(uint)lockId });
        return await command.ExecuteScalarAsync(cancellation) as string;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                var (highWaterMark, positions) = await ReadAsync(stoppingToken);
                foreach (var (name, position) in positions) ProjectionRebuilds.DaemonLag[name] = Math.Max(highWaterMark - position, 0);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogDebug(e, "Reading the daemon's progress failed; the lag gauge keeps its last values");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
