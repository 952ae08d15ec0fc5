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
/// Rebuilds of read models on a running ledger, every one blue/green (<see cref="RunBlueGreenAsync"/>):
/// a new copy of its table (a plain table, or a Marten document table) is built beside the live
/// one and switched in one short step, so readers never see a half-built copy and writers wait only
/// for that step. No event is applied twice or lost, and no decision reads a read model, so
/// nothing a rebuild does can change a decision.
/// Progress is kept in <c>projection_rebuilds</c>, so any node answers the poll, and a partial
/// unique index allows one running rebuild per read model across all nodes.
/// </summary>
public sealed class ProjectionRebuilds(IDocumentStore store, NpgsqlDataSource dataSource, TimeProvider clock,
    ILogger<ProjectionRebuilds> logger, IHostApplicationLifetime lifetime)
{
    public const string TableName = "projection_rebuilds";
    public const int PageSize = 5000;

    /// <summary>Rows an additive projection's rebuild adds up in memory before writing them.</summary>
    private const int MaxPendingRows = 200_000;

    /// <summary>How often a running rebuild records its progress (which also tells other nodes it is alive).</summary>
    private static readonly TimeSpan ReportEvery = TimeSpan.FromMilliseconds(250);

    /// <summary>A hole is taken for gone no sooner than this after it was seen.</summary>
    private static readonly TimeSpan GapMinimumAge = TimeSpan.FromSeconds(2);

    /// <summary>How far ahead one gap check looks (sequence numbers).</summary>
    private const int GapWindow = 8 * PageSize;

    /// <summary>A running rebuild whose node has not reported for this long is taken as abandoned (its transaction died with it).</summary>
    public static readonly TimeSpan Abandoned = TimeSpan.FromMinutes(2);

    private string Schema => store.Options.DatabaseSchemaName;

    /// <summary>Events each read model is behind the store, as this node knows it: 0 for an inline read model, the rest of the replay while it rebuilds here.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> Lag = new(StringComparer.Ordinal);

    /// <summary>Events the async daemon is behind the store, per read model it keeps (<see cref="DaemonProgress"/>).</summary>
    internal static readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> DaemonLag = new(StringComparer.Ordinal);

    private static readonly System.Diagnostics.Metrics.ObservableGauge<long> LagGauge = Hosting.Observability.Meter.CreateObservableGauge("ledger.projection.lag",
        () => Lag.Select(l => new System.Diagnostics.Metrics.Measurement<long>(Math.Max(l.Value, DaemonLag.GetValueOrDefault(l.Key)),
            new KeyValuePair<string, object?>("projection", l.Key))), "{event}",
        "Events a read model is behind the event store: for one the async daemon keeps, how far the daemon is behind (read every 5 s); " +
        "for an inline one 0, except while being rebuilt on this node.");

    /// <summary>Makes the read models known to the lag gauge, at 0.</summary>
    public static void Track(IEnumerable<ReadModel> models)
    {
        _ = LagGauge;
        foreach (var model in models) Lag.TryAdd(model.Name, 0);
    }

    public const string VersionsTable = "projection_versions";

    /// <summary>The version of the code each table read model's live table was built by.</summary>
    public static Table VersionsDefinition(string schema)
    {
        var table = new Table(new PostgresqlObjectName(schema, VersionsTable, Weasel.Postgresql.SchemaUtils.IdentifierUsage.General));
        table.AddColumn<string>("projection").AsPrimaryKey();
        table.AddColumn<int>("version").NotNull();
        table.AddColumn("built_at", "timestamptz").NotNull();
        return table;
    }

    /// <summary>The version each read model's live table was built by (absent: never recorded).</summary>
    public async Task<Dictionary<string, int>> LiveVersionsAsync(CancellationToken cancellation)
    {
        await using var command = dataSource.CreateCommand($"select projection, version from {Schema}.{VersionsTable}");
        var versions = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation)) versions[reader.GetString(0)] = reader.GetInt32(1);
        return versions;
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
        if (started) _ = Task.Run(() => RunBlueGreenAsync(model, status.Id, verify, lifetime.ApplicationStopping, progress: null), CancellationToken.None);
        return (status, started);
    }

    /// <summary>Rebuilds in the caller's flow (the command line); <paramref name="progress"/> hears of it every 250 ms and at the end.</summary>
    public async Task<RebuildStatus> RunNowAsync(ReadModel model, bool verify, Action<RebuildStatus>? progress, CancellationToken cancellation)
    {
        var (status, started) = await RegisterAsync(model, verify, cancellation);
        if (!started) throw new InvalidOperationException($"A rebuild of {model.Name} is already running ({status.Id}).");
        await RunBlueGreenAsync(model, status.Id, verify, cancellation, progress);
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
    /// Blue/green: the new copy is built in a table of its own beside the live one, page by page in
    /// transactions of its own (an additive read model adds the events up in memory as they are read
    /// and writes its rows now and then), while the live table keeps serving reads and taking the writers'
    /// inline updates. It follows the events up to the head, reading only a gap-free prefix of the
    /// sequence (an event whose number is missing may belong to a transaction still in flight).
    /// Then, in one transaction, the live table is locked against writers (readers go on), the last
    /// events are applied to the new copy, and the two are switched by renaming them — an
    /// access-exclusive lock held for the renames only; a writer that was waiting goes on against
    /// the new table, which PostgreSQL resolves by name again. In verify mode the two copies are
    /// compared under that lock and the new one is dropped.
    /// </summary>
    private async Task RunBlueGreenAsync(ReadModel model, Guid id, bool verify, CancellationToken cancellation, Action<RebuildStatus>? progress)
    {
        var started = clock.GetTimestamp();
        var live = $"{Schema}.{model.Table}";
        // A copy per run: a run taken for abandoned (its node silent for two minutes) that is in fact
        // alive cannot write into the next run's copy, and it is fenced off at the switch.
        var copyName = $"{model.Table}_rebuild_{id.ToString("N")[^8..]}";
        var copy = $"{Schema}.{copyName}";
        var projection = model.Into(copy);
        var reader = new EventPages(store, model.EventTypes);
        await using var reporter = await dataSource.OpenConnectionAsync(cancellation);
        try
        {
            await DropLeftoverCopiesAsync(model.Table, cancellation);
            await ExecuteAsync($"create table {copy} (like {live} including all)", cancellation);
            await ExecuteAsync($"do $$ declare o text[]; begin select reloptions into o from pg_class where oid = '{live}'::regclass; " +
                               $"if o is not null then execute format('alter table {copy} set (%s)', array_to_string(o, ',')); end if; end $$", cancellation);

            // One pass over the events in sequence order, page by page. An additive projection adds
            // each event up as it is read and holds only its rows, so the events die young: holding
            // pages of them (to apply beside the reading) had them promoted by the collector, whose
            // work then cost more than the reading (docs/benchmarks.md, "Rebuilds").
            var timings = new PhaseTimings();
            var additive = projection as Common.IAdditiveProjection;
            await using var pager = await dataSource.OpenConnectionAsync(cancellation);
            long processed = 0, position = 0;
            var reported = clock.GetTimestamp();
            await foreach (var (end, head) in GapFreePagesAsync(model, id, reporter, timings, cancellation))
            {
                var phase = clock.GetTimestamp();
                if (additive is not null)
                {
                    processed += await reader.ReadDataAsync(pager, position, end, additive.Add, cancellation);
                    timings.Reading += clock.GetElapsedTime(phase);
                    if (additive.PendingRows >= MaxPendingRows) await WriteAsync(additive, timings, cancellation);
                }
                else
                {
                    var page = await reader.ReadAsync(pager, position, end, cancellation);
                    timings.Reading += clock.GetElapsedTime(phase);
                    phase = clock.GetTimestamp();
                    if (page.Count > 0)
                    {
                        await using var session = store.LightweightSession();
                        await projection.ApplyAsync(session, page, cancellation);
                        await session.SaveChangesAsync(cancellation);
                        processed += page.Count;
                    }

                    timings.Applying += clock.GetElapsedTime(phase);
                }

                position = end;
                // The total while running is an estimate: the events replayed, and the rest of the sequence
                // at the share of this read model's events in it so far. Counting them instead (a scan of
                // every event) took a tenth of the replay's time, and slowed the replay while it ran.
                var total = processed + (long)((decimal)(head - end) * processed / Math.Max(end, 1));
                Lag[model.Name] = total - processed;
                if (clock.GetElapsedTime(reported) < ReportEvery) continue;
                // (Reported first: `progress?.Invoke(await …)` would not report at all without a listener.)
                var running = await ReportAsync(reporter, id, "running", processed, total, position, null, finished: false, cancellation);
                progress?.Invoke(running);
                reported = clock.GetTimestamp();
            }

            if (additive is { PendingRows: > 0 }) await WriteAsync(additive, timings, cancellation);

            // The switch: writers of the live table wait from here to the commit; readers only during
            // the renames. Each lock is given 5 s: one long reader must not stall every writer behind
            // the upgrade; the switch is tried again instead.
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    var (applied, switchedAt) = await SwitchOnceAsync(model, id, verify, live, copy, copyName, projection, reader, position, reporter, cancellation);
                    processed += applied;
                    position = switchedAt;
                    break;
                }
                catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable && attempt < 5)
                {
                    logger.LogWarning("Switching {Projection} waited too long for its lock (attempt {Attempt}); trying again", model.Name, attempt);
                    await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), cancellation);
                }
            }

            if (verify) await ExecuteAsync($"drop table if exists {copy}", CancellationToken.None);
            Lag[model.Name] = 0;
            var completed = await ReportAsync(reporter, id, "completed", processed, processed, position, null, finished: true, CancellationToken.None);
            progress?.Invoke(completed);
            // (For an additive read model, reading includes adding the events up; applying is writing its rows.)
            logger.LogInformation("Rebuilt {Projection} blue/green from {Events} events in {Seconds:0.0} s (reading {Reading:0.0} s, applying {Applying:0.0} s, " +
                                  "head and gap checks {Gaps:0.0} s)", model.Name, processed, clock.GetElapsedTime(started).TotalSeconds,
                timings.Reading.TotalSeconds, timings.Applying.TotalSeconds, timings.Gaps.TotalSeconds);
        }
        catch (Exception e)
        {
            Lag[model.Name] = 0;
            logger.LogError(e, "Rebuilding {Projection} failed; the live table is untouched", model.Name);
            try
            {
                await ExecuteAsync($"drop table if exists {copy}", CancellationToken.None);
            }
            catch (Exception cleanup) when (cleanup is NpgsqlException)
            {
                logger.LogWarning("Could not drop {Copy}: {Reason}", copy, cleanup.Message);
            }

            var reason = cancellation.IsCancellationRequested ? "Cancelled: the node stopped before the rebuild finished."
                : e is PostgresException p ? $"PostgreSQL {p.SqlState}: {p.MessageText}"
                : $"{e.GetType().Name}: see the log of the node that ran it.";
            await ReportAsync(reporter, id, "failed", null, null, null, reason, finished: true, CancellationToken.None);
            progress?.Invoke((await GetAsync(id, CancellationToken.None))!);
        }
    }

    private async Task WriteAsync(Common.IAdditiveProjection additive, PhaseTimings timings, CancellationToken cancellation)
    {
        var started = clock.GetTimestamp();
        await using (var session = store.LightweightSession())
        {
            additive.QueueWrite(session);
            await session.SaveChangesAsync(cancellation);
        }

        timings.Applying += clock.GetElapsedTime(started);
    }

    /// <summary>
    /// The ends of the pages a rebuild reads, in order, up to near the head (or the daemon's
    /// progression), each with the head seen when it was found. Each is the end of a gap-free prefix
    /// of the sequence: first the gap-free end (every number up to it is committed) is found, then
    /// the events up to it are read — in that order, an event committed in between cannot be passed
    /// over. A missing number is a transaction still in flight or one that will never commit: once
    /// every transaction that was in flight when the gap was seen has ended, every number up to the
    /// head seen then that is still missing is gone for good.
    /// </summary>
    private async IAsyncEnumerable<(long End, long Head)> GapFreePagesAsync(ReadModel model, Guid id, NpgsqlConnection heartbeat, PhaseTimings timings,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellation)
    {
        long position = 0, gapFreeEnd = 0, head = 0;
        // Numbers missing for good (their transactions rolled back or died): treated as present.
        var gone = new List<long>();
        // A gap being waited out: the transactions in flight when it was seen, the head then, and when.
        (long XidBound, long Head, long Seen)? waiting = null;
        while (true)
        {
            cancellation.ThrowIfCancellationRequested();
            if (position >= gapFreeEnd)
            {
                var phase = clock.GetTimestamp();
                head = await TargetAsync(model, cancellation);
                // Near the head the switch takes the rest, under the lock: no chasing writers, and
                // no waiting on a transaction still in flight.
                if (head - position < PageSize) yield break;

                var (end, gap) = await GapFreeEndAsync(position, Math.Min(head, position + GapWindow), gone, cancellation);
                timings.Gaps += clock.GetElapsedTime(phase);
                if (gap is not null && end == position)
                {
                    if (waiting is null)
                    {
                        waiting = (await XidBoundAsync(cancellation), head, clock.GetTimestamp());
                    }
                    // (And a few seconds old: a writer that took its number before its transaction
                    // had an id would not be in flight by the bound.)
                    else if (await OldestRunningXidAsync(cancellation) >= waiting.Value.XidBound
                             && clock.GetElapsedTime(waiting.Value.Seen) >= GapMinimumAge)
                    {
                        gone.AddRange(await MissingAsync(position, waiting.Value.Head, gone, cancellation));
                        waiting = null;
                        continue;
                    }

                    // Still waiting: say so, so no other node takes this rebuild for abandoned.
                    await ReportAsync(heartbeat, id, "running", null, null, null, null, finished: false, cancellation);
                    await Task.Delay(50, cancellation);
                    continue;
                }

                waiting = null;
                gapFreeEnd = end;
                // Numbers behind the pages matter no more.
                gone.RemoveAll(x => x <= position);
            }

            // A page: a range of sequence numbers holding at most a page of events.
            position = Math.Min(position + PageSize, gapFreeEnd);
            yield return (position, head);
        }
    }

    /// <summary>
    /// Rebuilds one customer's rows of a table read model, in one transaction: the customer's
    /// account row is locked first (every writer of a customer takes it), so no write of that
    /// customer runs meanwhile and none of another customer waits (for a read model the async
    /// daemon keeps, the daemon waits too); the customer's rows are deleted
    /// and the customer's events replayed in pages, <paramref name="progress"/> hearing of each.
    /// Returns the number of events replayed.
    /// </summary>
    public async Task<long> RebuildCustomerAsync(ReadModel model, string customerId, Action<long, long>? progress, CancellationToken cancellation)
    {
        var live = $"{Schema}.{model.Table}";
        await using var connection = await dataSource.OpenConnectionAsync(cancellation);
        await using var transaction = await connection.BeginTransactionAsync(cancellation);
        await using var session = store.LightweightSession(Marten.Services.SessionOptions.ForTransaction(transaction));
        if (await Accounts.AccountTable.LockAsync(connection, Schema, customerId, cancellation) is null)
            throw new InvalidOperationException($"No customer '{customerId}'.");

        // Kept by the async daemon: the daemon (its only writer) waits meanwhile, and the customer's
        // rows are rebuilt from the events up to its progression, where it goes on from.
        var upTo = long.MaxValue;
        if (model.Async)
        {
            await ExecuteAsync(connection, $"lock table {live} in exclusive mode", cancellation);
            upTo = await TargetAsync(connection, model, cancellation);
        }

        await using (var delete = connection.CreateCommand())
        {
            delete.CommandText = $"delete from {live} where customer_id = $1";
            delete.Parameters.Add(new NpgsqlParameter { Value = customerId });
            await delete.ExecuteNonQueryAsync(cancellation);
        }

        var events = (await Audit.AuditVerifier.EventsOfAsync(session, connection, customerId, cancellation))
            .Where(e => model.EventTypes.Contains(e.EventType) && e.Sequence <= upTo).ToList();
        var projection = model.Into(live);
        long done = 0;
        foreach (var page in events.Chunk(PageSize))
        {
            await projection.ApplyAsync(session, page, cancellation);
            await session.SaveChangesAsync(cancellation);
            done += page.Length;
            progress?.Invoke(done, events.Count);
        }

        progress?.Invoke(done, events.Count);
        await transaction.CommitAsync(cancellation);
        return done;
    }

    /// <summary>
    /// One attempt at the switch, in one transaction: lock the live table against writers, apply the
    /// events it has taken since the copy's position, then (verify) compare and roll back, or rename
    /// the copy into place. Fenced: a run no longer registered as running does not switch.
    /// </summary>
    private async Task<(long Applied, long Position)> SwitchOnceAsync(ReadModel model, Guid id, bool verify, string live, string copy, string copyName,
        Common.SetBasedProjection projection, EventPages reader, long position, NpgsqlConnection reporter, CancellationToken cancellation)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellation);
        await using var transaction = await connection.BeginTransactionAsync(cancellation);
        await ExecuteAsync(connection, "set local lock_timeout = '5s'", cancellation);
        await using (var fence = connection.CreateCommand())
        {
            fence.CommandText = $"select 1 from {Schema}.{TableName} where id = $1 and status = 'running' for update";
            fence.Parameters.Add(new NpgsqlParameter { Value = id });
            if (await fence.ExecuteScalarAsync(cancellation) is null)
                throw new InvalidOperationException("This rebuild is no longer registered as running (taken for abandoned); it does not switch.");
        }

        await ExecuteAsync(connection, $"lock table {live} in exclusive mode", cancellation);
        // Inline: every event committed now (a writer still in flight writes the live table after
        // the switch, so into the new copy). Async: up to the daemon's progression, which cannot
        // move while the lock keeps the daemon from writing the live table; it goes on from there.
        var upTo = model.Async ? await TargetAsync(connection, model, cancellation) : long.MaxValue;
        if (upTo < position)
            throw new InvalidOperationException($"The daemon's progression for {model.Name} ({upTo}) went back behind the copy ({position}): " +
                                                "was the projection reset? Nothing is switched; rebuild again.");
        long applied = 0;
        var switchedAt = position;
        await using (var session = store.LightweightSession(Marten.Services.SessionOptions.ForTransaction(transaction)))
        {
            var rest = await reader.ReadAsync(connection, position, upTo, cancellation);
            if (rest.Count > 0)
            {
                await projection.ApplyAsync(session, rest, cancellation);
                await session.SaveChangesAsync(cancellation);
                applied = rest.Count;
                switchedAt = rest[^1].Sequence;
            }

            if (model.Async) switchedAt = upTo;
        }

        if (verify)
        {
            var differences = Differences(await TableRowsAsync(connection, live, cancellation), await TableRowsAsync(connection, copy, cancellation));
            await transaction.RollbackAsync(cancellation);
            await RecordDifferencesAsync(reporter, id, differences, cancellation);
        }
        else
        {
            await ExecuteAsync(connection, $"lock table {live} in access exclusive mode", cancellation);
            await SwitchAsync(connection, model.Table, copyName, cancellation);
            // The live table is now what this version of the code writes.
            await using (var version = connection.CreateCommand())
            {
                version.CommandText = $"insert into {Schema}.{VersionsTable} (projection, version, built_at) values ($1, $2, $3) " +
                                      "on conflict (projection) do update set version = excluded.version, built_at = excluded.built_at";
                version.Parameters.Add(new NpgsqlParameter { Value = model.Name });
                version.Parameters.Add(new NpgsqlParameter { Value = model.Version });
                version.Parameters.Add(new NpgsqlParameter { Value = clock.GetUtcNow() });
                await version.ExecuteNonQueryAsync(cancellation);
            }

            await transaction.CommitAsync(cancellation);
        }

        return (applied, switchedAt);
    }

    /// <summary>Copies left by runs that died (their names carry the run): only one rebuild of a read model runs at a time.</summary>
    private async Task DropLeftoverCopiesAsync(string table, CancellationToken cancellation)
    {
        await using var command = dataSource.CreateCommand("select tablename from pg_tables where schemaname = $1 and tablename like $2");
        command.Parameters.Add(new NpgsqlParameter { Value = Schema });
        command.Parameters.Add(new NpgsqlParameter { Value = table + "\\_rebuild\\_%" });
        var leftovers = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync(cancellation))
            while (await reader.ReadAsync(cancellation)) leftovers.Add(reader.GetString(0));
        foreach (var leftover in leftovers) await ExecuteAsync($"drop table if exists {Schema}.\"{leftover}\"", cancellation);
    }

    /// <summary>The first transaction id not yet started now: every transaction in flight now is below it.</summary>
    private async Task<long> XidBoundAsync(CancellationToken cancellation)
    {
        await using var command = dataSource.CreateCommand("select pg_snapshot_xmax(pg_current_snapshot())::text::bigint");
        return (long)(await command.ExecuteScalarAsync(cancellation))!;
    }

    /// <summary>The oldest transaction id still running now (or the next one, when none runs).</summary>
    private async Task<long> OldestRunningXidAsync(CancellationToken cancellation)
    {
        await using var command = dataSource.CreateCommand("select pg_snapshot_xmin(pg_current_snapshot())::text::bigint");
        return (long)(await command.ExecuteScalarAsync(cancellation))!;
    }

    /// <summary>Every number in (after, upTo] missing from the sequence (and not already known gone).</summary>
    private async Task<List<long>> MissingAsync(long after, long upTo, List<long> gone, CancellationToken cancellation)
    {
        await using var command = dataSource.CreateCommand(
            $"select s from generate_series($1 + 1, $2) s where s <> all($3) and not exists (select 1 from {Schema}.mt_events e where e.seq_id = s)");
        command.Parameters.Add(new NpgsqlParameter { Value = after });
        command.Parameters.Add(new NpgsqlParameter { Value = upTo });
        command.Parameters.Add(new NpgsqlParameter { Value = gone.ToArray() });
        var missing = new List<long>();
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation)) missing.Add(reader.GetInt64(0));
        return missing;
    }

    /// <summary>
    /// The last sequence number up to which every number in (after, upTo] is present (or taken as
    /// rolled back), and the first missing one (null when there is none).
    /// </summary>
    private async Task<(long End, long? Gap)> GapFreeEndAsync(long after, long upTo, List<long> skipped, CancellationToken cancellation)
    {
        // Mostly there is no gap: counting the numbers (an index-only scan) shows it at a third of the
        // cost. A number taken as gone counts only while it is still missing: one that turned up after
        // all must not be counted twice, which could hide a real hole in the same window.
        await using (var counting = dataSource.CreateCommand(
                         $"select (select count(*) from {Schema}.mt_events where seq_id > $1 and seq_id <= $2) + " +
                         $"(select count(*) from unnest($3::bigint[]) x where x > $1 and x <= $2 and not exists (select 1 from {Schema}.mt_events e where e.seq_id = x))"))
        {
            counting.Parameters.Add(new NpgsqlParameter { Value = after });
            counting.Parameters.Add(new NpgsqlParameter { Value = upTo });
            counting.Parameters.Add(new NpgsqlParameter { Value = skipped.ToArray() });
            if ((long)(await counting.ExecuteScalarAsync(cancellation))! == upTo - after) return (upTo, null);
        }

        // One index range scan: each present number (or one taken as rolled back) against the one before it.
        await using var command = dataSource.CreateCommand(
            $"with present as (select seq_id as s from {Schema}.mt_events where seq_id > $1 and seq_id <= $2 " +
            "union all select x from unnest($3::bigint[]) x where x > $1 and x <= $2), " +
            "ordered as (select s, coalesce(lag(s) over (order by s), $1) as prev from present) " +
            "select (select min(prev + 1) from ordered where s - prev > 1), (select coalesce(max(s), $1) from present)");
        command.Parameters.Add(new NpgsqlParameter { Value = after });
        command.Parameters.Add(new NpgsqlParameter { Value = upTo });
        command.Parameters.Add(new NpgsqlParameter { Value = skipped.ToArray() });
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        await reader.ReadAsync(cancellation);
        if (!reader.IsDBNull(0)) return (reader.GetInt64(0) - 1, reader.GetInt64(0));
        var last = reader.GetInt64(1);
        return last < upTo ? (last, last + 1) : (upTo, null);
    }

    /// <summary>
    /// How far the new copy must get: the event store's head for an inline read model, and for one
    /// kept by the async daemon the daemon's progression — its live table holds exactly the events up
    /// to there, and the daemon goes on from there into whichever table then has the live name.
    /// </summary>
    private async Task<long> TargetAsync(ReadModel model, CancellationToken cancellation)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellation);
        return await TargetAsync(connection, model, cancellation);
    }

    private async Task<long> TargetAsync(NpgsqlConnection connection, ReadModel model, CancellationToken cancellation)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = model.Async
            ? $"select coalesce((select last_seq_id from {Schema}.mt_event_progression where name = $1), 0)"
            : $"select coalesce(max(seq_id), 0) from {Schema}.mt_events";
        if (model.Async) command.Parameters.Add(new NpgsqlParameter { Value = model.ShardName });
        return (long)(await command.ExecuteScalarAsync(cancellation))!;
    }

    /// <summary>
    /// Renames the new copy into the live table's place, and its indexes to the live ones' names
    /// (so the schema is as the ledger declares it), and drops the old copy.
    /// </summary>
    private async Task SwitchAsync(NpgsqlConnection connection, string table, string copyName, CancellationToken cancellation)
    {
        var retired = table + "_retired";
        var liveIndexes = await IndexesAsync(connection, table, cancellation);
        var copyIndexes = await IndexesAsync(connection, copyName, cancellation);
        await ExecuteAsync(connection, $"drop table if exists {Schema}.{retired}; alter table {Schema}.{table} rename to {retired}", cancellation);
        // Short new names: PostgreSQL truncates identifiers at 63 bytes, so a suffix could give back the same name.
        for (var i = 0; i < liveIndexes.Count; i++)
            await ExecuteAsync(connection, $"alter index {Schema}.\"{liveIndexes[i].Name}\" rename to retired_{i}_{Guid.NewGuid():N}", cancellation);
        await ExecuteAsync(connection, $"alter table {Schema}.{copyName} rename to {table}", cancellation);
        foreach (var (name, definition) in copyIndexes)
        {
            // Matched by definition: the same columns, the same kind, on the table's own name.
            var match = liveIndexes.FirstOrDefault(l => l.Definition == definition.Replace(name, l.Name, StringComparison.Ordinal)
                .Replace($"{Schema}.{copyName}", $"{Schema}.{table}", StringComparison.Ordinal));
            if (match.Name is not null) await ExecuteAsync(connection, $"alter index {Schema}.\"{name}\" rename to \"{match.Name}\"", cancellation);
        }

        await ExecuteAsync(connection, $"drop table {Schema}.{retired}", cancellation);
    }

    private async Task<List<(string Name, string Definition)>> IndexesAsync(NpgsqlConnection connection, string table, CancellationToken cancellation)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "select indexname, indexdef from pg_indexes where schemaname = $1 and tablename = $2";
        command.Parameters.Add(new NpgsqlParameter { Value = Schema });
        command.Parameters.Add(new NpgsqlParameter { Value = table });
        var indexes = new List<(string, string)>();
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation)) indexes.Add((reader.GetString(0), reader.GetString(1)));
        return indexes;
    }

    private static async Task<List<string>> TableRowsAsync(NpgsqlConnection connection, string table, CancellationToken cancellation)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = table.Contains(".mt_doc_", StringComparison.Ordinal) // a document: by id and data (Marten's own columns change on every store)
            ? $"select id::text || ' ' || data::text from {table}"
            : $"select t::text from {table} t";
        var rows = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation)) rows.Add(reader.GetString(0));
        return rows;
    }

    private async Task ExecuteAsync(string sql, CancellationToken cancellation)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellation);
        await ExecuteAsync(connection, sql, cancellation);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellation)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellation);
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

/// <summary>Where a rebuild's time went, for its log line.</summary>
internal sealed class PhaseTimings
{
    public TimeSpan Reading { get; set; }

    public TimeSpan Applying { get; set; }

    public TimeSpan Gaps { get; set; }
}
