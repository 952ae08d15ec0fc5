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
    DateTimeOffset StartedAt, DateTimeOffset? FinishedAt);

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
    public async Task<(RebuildStatus Status, bool Started)> StartAsync(ReadModel model, CancellationToken cancellation)
    {
        var (status, started) = await RegisterAsync(model, cancellation);
        if (started) _ = Task.Run(() => RunAsync(model, status.Id, lifetime.ApplicationStopping), CancellationToken.None);
        return (status, started);
    }

    /// <summary>Rebuilds in the caller's flow (the command line); <paramref name="progress"/> hears of every page.</summary>
    public async Task<RebuildStatus> RunNowAsync(ReadModel model, Action<RebuildStatus>? progress, CancellationToken cancellation)
    {
        var (status, started) = await RegisterAsync(model, cancellation);
        if (!started) throw new InvalidOperationException($"A rebuild of {model.Name} is already running ({status.Id}).");
        await RunAsync(model, status.Id, cancellation, progress);
        return (await GetAsync(status.Id, CancellationToken.None))!;
    }

    private async Task<(RebuildStatus Status, bool Started)> RegisterAsync(ReadModel model, CancellationToken cancellation)
    {
        await AbandonStaleAsync(cancellation);
        var id = Guid.CreateVersion7();
        await using var insert = dataSource.CreateCommand(
            $"insert into {Schema}.{TableName} (id, projection, status, processed, total, position, started_at, updated_at) " +
            "values ($1, $2, 'running', 0, 0, 0, $3, $3) on conflict (projection) where status = 'running' do nothing");
        insert.Parameters.Add(new NpgsqlParameter { Value = id });
        insert.Parameters.Add(new NpgsqlParameter { Value = model.Name });
        insert.Parameters.Add(new NpgsqlParameter { Value = clock.GetUtcNow() });
        if (await insert.ExecuteNonQueryAsync(cancellation) == 0) return ((await ListAsync(model.Name, true, cancellation)).First(), false);
        return ((await GetAsync(id, cancellation))!, true);
    }

    private async Task RunAsync(ReadModel model, Guid id, CancellationToken cancellation, Action<RebuildStatus>? progress = null)
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
            await using (var lockAndClear = connection.CreateCommand())
            {
                lockAndClear.CommandText = $"lock table {tables} in exclusive mode; delete from {string.Join("; delete from ", model.Tables(Schema))}";
                await lockAndClear.ExecuteNonQueryAsync(cancellation);
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
                var status = await ReportAsync(reporter, id, "running", processed, Math.Max(total, processed), position, null, finished: false, cancellation);
                progress?.Invoke(status);
            }

            await transaction.CommitAsync(cancellation);
            var done = await ReportAsync(reporter, id, "completed", processed, processed, position, null, finished: true, CancellationToken.None);
            progress?.Invoke(done);
            logger.LogInformation("Rebuilt {Projection} from {Events} events in {Seconds:0.0} s", model.Name, processed,
                Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
        catch (Exception e)
        {
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

    private const string Columns = "id, projection, status, processed, total, position, error, started_at, finished_at";

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
                reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8)));
        }

        return list;
    }
}
