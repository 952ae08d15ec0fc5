using System.Diagnostics;
using JasperFx.Events;
using Ledger.Common;
using Marten;
using Marten.Events;
using Npgsql;
using Weasel.Postgresql;
using Weasel.Postgresql.Tables;

namespace Ledger.Operations;

public sealed record RebuildStatus(Guid Id, string Projection, string Status, long Processed, long Total, long Position, string? Error,
    DateTimeOffset StartedAt, DateTimeOffset? FinishedAt, string Mode, long? DifferenceCount, IReadOnlyList<string> Differences);

/// <summary>
/// Rebuilds of read models on a running ledger. A rebuild runs in one transaction that holds the
/// read model's tables in EXCLUSIVE mode: readers keep reading the previous rows (MVCC) until the
/// rebuilt ones commit, all at once; writers that update the read model inline wait for the
/// commit rather than write into a half-built table, so no event is applied twice or lost. No
/// decision reads a read model, so nothing a rebuild does can change a decision. Progress is kept
/// in <c>projection_rebuilds</c>, so any node answers the poll, and a partial unique index allows one
/// running rebuild per read model across all nodes.
/// </summary>
public sealed class ProjectionRebuilds(IDocumentStore store, NpgsqlDataSource dataSource, TimeProvider clock,
    ILogger<ProjectionRebuilds> logger, IHostApplicationLifetime lifetime)
{
    public const string TableName = "projection_rebuilds";
    public const int PageSize = 5000;

    /// <summary>A running rebuild whose node has not reported for this long is taken as abandoned (its transaction died with it).</summary>
    public static readonly TimeSpan Abandoned = TimeSpan.FromMinutes(2);

    private string Schema => store.Options.DatabaseSchemaName;

    /// <summary>Events each read model is behind the store, as this node knows it: 0 for an inline read model, the rest of the replay while it rebuilds here.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> Lag = new(StringComparer.Ordinal);

    private static readonly System.Diagnostics.Metrics.ObservableGauge<long> LagGauge = Hosting.Observability.Meter.CreateObservableGauge("ledger.projection.lag",
        () => Lag.Select(l => new System.Diagnostics.Metrics.Measurement<long>(l.Value, new KeyValuePair<string, object?>("projection", l.Key))), "{event}",
        "Events a read model is behind the event store (inline read models: 0, except while being rebuilt on this node).");

    /// <summary>Makes the read models known to the lag gauge, at 0.</summary>
    public static void Track(IEnumerable<ReadModel> models)
    {
        _ = LagGauge;
        foreach (var model in models) Lag.TryAdd(model.Name, 0);
    }

    public static Table Definition(string schema)
    {
        var table = new Table(new PostgresqlObjectName(schema, TableName, Weasel.Postgresql.SchemaUtils.IdentifierUsage.General));
        table.AddColumn<Guid>("id").AsPrimaryKey();
        table.AddColumn<string>("projection").NotNull();
        table.AddColumn<string>("status").NotNull();
        table.AddColumn<long>("processed").NotNull();
        table.AddColumn<long>("total").NotNull();
        table.AddColumn<long>("position").NotNull();
        table.AddColumn<string>("error");
        table.AddColumn("started_at", "timestamptz").NotNull();
        table.AddColumn("updated_at", "timestamptz").NotNull();
        table.AddColumn("finished_at", "timestamptz");
        table.AddColumn<string>("mode").NotNull().DefaultValueByString("rebuild");
        table.AddColumn<long>("difference_count");
        table.AddColumn("differences", "text[]");
        table.Indexes.Add(new IndexDefinition("ux_projection_rebuilds_running")
        {
            Columns = ["projection"], IsUnique = true, Predicate = "status = 'running'",
        });
        return table;
    }

    /// <summary>
    /// Registers a rebuild and starts it in the background on this node. Returns the running rebuild
    /// instead when one of this read model is already running somewhere (<c>Started</c> false).
    /// </summary>
    public async Task<(RebuildStatus Status, bool Started)> StartAsync(ReadModel model, bool verify, CancellationToken cancellation)
    {
        var (status, started) = await RegisterAsync(model, verify, cancellation);
        if (started) _ = Task.Run(() => RunAsync(model, status.Id, verify, lifetime.ApplicationStopping), CancellationToken.None);
        return (status, started);
    }

    /// <summary>Rebuilds in the caller's flow (the command line); <paramref name="progress"/> hears of every page.</summary>
    public async Task<RebuildStatus> RunNowAsync(ReadModel model, bool verify, Action<RebuildStatus>? progress, CancellationToken cancellation)
    {
        var (status, started) = await RegisterAsync(model, verify, cancellation);
        if (!started) throw new InvalidOperationException($"A rebuild of {model.Name} is already running ({status.Id}).");
        await RunAsync(model, status.Id, verify, cancellation, progress);
        return (await GetAsync(status.Id, CancellationToken.None))!;
    }

    private async Task<(RebuildStatus Status, bool Started)> RegisterAsync(ReadModel model, bool verify, CancellationToken cancellation)
    {
        await AbandonStaleAsync(cancellation);
        var id = Guid.CreateVersion7();
        await using var insert = dataSource.CreateCommand(
            $"insert into {Schema}.{TableName} (id, projection, status, processed, total, position, started_at, updated_at, mode) " +
            "values ($1, $2, 'running', 0, 0, 0, $3, $3, $4) on conflict (projection) where status = 'running' do nothing");
        insert.Parameters.Add(new NpgsqlParameter { Value = id });
        insert.Parameters.Add(new NpgsqlParameter { Value = model.Name });
        insert.Parameters.Add(new NpgsqlParameter { Value = clock.GetUtcNow() });
        insert.Parameters.Add(new NpgsqlParameter { Value = verify ? "verify" : "rebuild" });
        if (await insert.ExecuteNonQueryAsync(cancellation) == 0) return ((await ListAsync(model.Name, true, cancellation)).First(), false);
        return ((await GetAsync(id, cancellation))!, true);
    }

    /// <summary>
    /// Rebuilds, or with <paramref name="verify"/> builds the rows the events give beside what is
    /// there (in the same locked transaction), reports every row that differs, and rolls back:
    /// nothing is replaced.
    /// </summary>
    private async Task RunAsync(ReadModel model, Guid id, bool verify, CancellationToken cancellation, Action<RebuildStatus>? progress = null)
    {
        var started = Stopwatch.GetTimestamp();
        // Progress goes through a connection taken before the lock: writers waiting on the lock hold
        // pooled connections, and the rebuild must not wait for one of them to report.
        await using var reporter = await dataSource.OpenConnectionAsync(cancellation);
        try
        {
            // The transaction is the rebuild's own, not the session's: the session saves each page
            // into it (SessionOptions.ForTransaction), and only the final commit publishes the rows.
            await using var connection = await dataSource.OpenConnectionAsync(cancellation);
            await using var transaction = await connection.BeginTransactionAsync(cancellation);
            await using var session = store.LightweightSession(Marten.Services.SessionOptions.ForTransaction(transaction));
            var tables = string.Join(", ", model.Tables(Schema));
            await using (var lockTables = connection.CreateCommand())
            {
                lockTables.CommandText = $"lock table {tables} in exclusive mode";
                await lockTables.ExecuteNonQueryAsync(cancellation);
            }

            var live = verify ? await RowsAsync(connection, model, cancellation) : null;
            await using (var clear = connection.CreateCommand())
            {
                clear.CommandText = $"delete from {string.Join("; delete from ", model.Tables(Schema))}";
                await clear.ExecuteNonQueryAsync(cancellation);
            }

            var total = await session.Events.QueryAllRawEvents().Where(e => e.EventTypesAre(model.EventTypes)).LongCountAsync(cancellation);
            var state = new Dictionary<string, object>(StringComparer.Ordinal);
            long processed = 0, position = 0;
            while (true)
            {
                var after = position;
                var page = await session.Events.QueryAllRawEvents()
                    .Where(e => e.Sequence > after && e.EventTypesAre(model.EventTypes))
                    .OrderBy(e => e.Sequence)
                    .Take(PageSize)
                    .ToListAsync(cancellation);
                if (page.Count == 0) break;

                await model.ApplyAsync(session, page, state, cancellation);
                await session.SaveChangesAsync(cancellation);
                processed += page.Count;
                position = page[^1].Sequence;
                Lag[model.Name] = Math.Max(total - processed, 0);
                var status = await ReportAsync(reporter, id, "running", processed, Math.Max(total, processed), position, null, finished: false, cancellation);
                progress?.Invoke(status);
            }

            if (live is not null)
            {
                var differences = Differences(live, await RowsAsync(connection, model, cancellation));
                await transaction.RollbackAsync(cancellation);
                await RecordDifferencesAsync(reporter, id, differences, cancellation);
            }
            else
            {
                await transaction.CommitAsync(cancellation);
            }

            Lag[model.Name] = 0;
            var done = await ReportAsync(reporter, id, "completed", processed, processed, position, null, finished: true, CancellationToken.None);
            progress?.Invoke(done);
            logger.LogInformation("Rebuilt {Projection} from {Events} events in {Seconds:0.0} s", model.Name, processed,
                Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
        catch (Exception e)
        {
            Lag[model.Name] = 0;
            logger.LogError(e, "Rebuilding {Projection} failed; the previous rows stay as they were", model.Name);
            var reason = cancellation.IsCancellationRequested ? "Cancelled: the node stopped before the rebuild finished."
                : e is PostgresException p ? $"PostgreSQL {p.SqlState}: {p.MessageText}"
                : $"{e.GetType().Name}: see the log of the node that ran it.";
            await ReportAsync(reporter, id, "failed", null, null, null, reason, finished: true, CancellationToken.None);
            progress?.Invoke((await GetAsync(id, CancellationToken.None))!);
        }
    }

    public async Task<RebuildStatus?> GetAsync(Guid id, CancellationToken cancellation)
    {
        await AbandonStaleAsync(cancellation);
        await using var command = dataSource.CreateCommand($"select {Columns} from {Schema}.{TableName} where id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        return (await ReadAsync(command, cancellation)).FirstOrDefault();
    }

    /// <summary>Rebuilds of one read model (or all), newest first.</summary>
    public async Task<List<RebuildStatus>> ListAsync(string? projection, bool runningOnly, CancellationToken cancellation)
    {
        await AbandonStaleAsync(cancellation);
        await using var command = dataSource.CreateCommand(
            $"select {Columns} from {Schema}.{TableName} where ($1::text is null or projection = $1) and (not $2 or status = 'running') order by started_at desc limit 100");
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)projection ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = runningOnly });
        return await ReadAsync(command, cancellation);
    }

    private const string Columns = "id, projection, status, processed, total, position, error, started_at, finished_at, mode, difference_count, differences";

    public const int MaxDifferencesReported = 50;

    /// <summary>Every row of the read model as text (a document by its id and data: Marten's own columns change on every store).</summary>
    private async Task<List<string>> RowsAsync(NpgsqlConnection connection, ReadModel model, CancellationToken cancellation)
    {
        var rows = new List<string>();
        foreach (var table in model.Tables(Schema))
        {
            await using var command = connection.CreateCommand();
            command.CommandText = table.Contains(".mt_doc_", StringComparison.Ordinal)
                ? $"select id::text || ' ' || data::text from {table}"
                : $"select t::text from {table} t";
            await using var reader = await command.ExecuteReaderAsync(cancellation);
            while (await reader.ReadAsync(cancellation)) rows.Add(reader.GetString(0));
        }

        return rows;
    }

    /// <summary>Rows only in the live read model, and rows only in the replay, compared by content.</summary>
    private static List<string> Differences(List<string> live, List<string> replayed)
    {
        static Dictionary<string, int> Counts(IEnumerable<string> rows) => rows.GroupBy(r => r, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count());
        var (a, b) = (Counts(live), Counts(replayed));
        var differences = new List<string>();
        foreach (var (row, n) in a.OrderBy(r => r.Key, StringComparer.Ordinal)) for (var i = b.GetValueOrDefault(row); i < n; i++) differences.Add("live, not in the replay: " + Clip(row));
        foreach (var (row, n) in b.OrderBy(r => r.Key, StringComparer.Ordinal)) for (var i = a.GetValueOrDefault(row); i < n; i++) differences.Add("in the replay, not live: " + Clip(row));
        return differences;
    }

    private static string Clip(string row) => row.Length > 400 ? row[..400] + "…" : row;

    private async Task RecordDifferencesAsync(NpgsqlConnection connection, Guid id, List<string> differences, CancellationToken cancellation)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"update {Schema}.{TableName} set difference_count = $2, differences = $3 where id = $1";
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = (long)differences.Count });
        command.Parameters.Add(new NpgsqlParameter { Value = differences.Take(MaxDifferencesReported).ToArray() });
        await command.ExecuteNonQueryAsync(cancellation);
    }

    private async Task<RebuildStatus> ReportAsync(NpgsqlConnection connection, Guid id, string status, long? processed, long? total, long? position,
        string? error, bool finished, CancellationToken cancellation)
    {
        await using var command = connection.CreateCommand();
        command.CommandText =
            $"update {Schema}.{TableName} set status = $2, processed = coalesce($3, processed), total = coalesce($4, total), " +
            "position = coalesce($5, position), error = $6, updated_at = $7, finished_at = case when $8 then $7 else finished_at end " +
            $"where id = $1 returning {Columns}";
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = status });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)processed ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)total ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)position ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)error ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = clock.GetUtcNow() });
        command.Parameters.Add(new NpgsqlParameter { Value = finished });
        return (await ReadAsync(command, cancellation)).Single();
    }

    private async Task AbandonStaleAsync(CancellationToken cancellation)
    {
        await using var command = dataSource.CreateCommand(
            $"update {Schema}.{TableName} set status = 'failed', error = 'Abandoned: the node running it stopped reporting.', finished_at = $1 " +
            "where status = 'running' and updated_at < $2");
        command.Parameters.Add(new NpgsqlParameter { Value = clock.GetUtcNow() });
        command.Parameters.Add(new NpgsqlParameter { Value = clock.GetUtcNow() - Abandoned });
        await command.ExecuteNonQueryAsync(cancellation);
    }

    private static async Task<List<RebuildStatus>> ReadAsync(NpgsqlCommand command, CancellationToken cancellation)
    {
        var list = new List<RebuildStatus>();
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation))
        {
            list.Add(new RebuildStatus(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3), reader.GetInt64(4),
                reader.GetInt64(5), reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetFieldValue<DateTimeOffset>(7),
                reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8), reader.GetString(9),
                reader.IsDBNull(10) ? null : reader.GetInt64(10), reader.IsDBNull(11) ? [] : reader.GetFieldValue<string[]>(11)));
        }

        return list;
    }
}
