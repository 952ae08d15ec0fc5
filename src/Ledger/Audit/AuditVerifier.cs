using System.Buffers;
using System.Text.Json;
using JasperFx.Events;
using Ledger.Accounts;
using Ledger.Common;
using Ledger.Invoicing;
using Ledger.Metering;
using Ledger.Operations;
using Ledger.Wallets;
using Marten;
using Npgsql;

namespace Ledger.Audit;

/// <summary>
/// One thing that is not as the events say. <c>Kind</c>: <c>chain</c> (an event's hash or link),
/// <c>head</c> (a stream's last version or hash against <c>stream_heads</c>), <c>wallet</c>,
/// <c>invoice</c> (a read-model row against a fresh replay), <c>account</c> (write-side state
/// against the fold of the events).
/// </summary>
public sealed record AuditMismatch(string Kind, string Subject, long? Version, string Detail, string? Expected, string? Found);

public sealed record AuditVerification(bool Ok, long StreamsChecked, long EventsChecked, IReadOnlyList<AuditMismatch> Mismatches);

/// <summary>
/// Verify: every stream's hash chain recomputed from the stored rows and held against the stream
/// heads, and every wallet row and invoice document rebuilt from the events (from the same
/// snapshot as the stored rows, in a transaction that is rolled back) and compared with what is
/// stored; with a customer, only that customer's streams and documents. Nothing a writer needs is
/// locked: the wallet is replayed into a temporary table.
/// </summary>
public sealed class AuditVerifier(IDocumentStore store, NpgsqlDataSource dataSource)
{
    public const int MaxMismatchesReported = 1000;

    /// <summary>
    /// Marten's own bookkeeping, not a ledger stream: when a transaction that had taken sequence
    /// numbers fails (an outage mid-append), Marten records empty <c>tombstone</c> events there so
    /// that the sequence has no holes. They carry no business data and are not chained.
    /// </summary>
    public const string MartenTombstoneStream = "mt_tombstone";

    private string Schema => store.Options.DatabaseSchemaName;

    public async Task<AuditVerification> VerifyAsync(string? customerId, CancellationToken cancellation)
    {
        var mismatches = new List<AuditMismatch>();
        var (streams, events) = await CheckChainsAsync(customerId, mismatches, cancellation);

        var customers = customerId is null ? await CustomersAsync(cancellation) : [customerId];
        foreach (var customer in customers)
        {
            try
            {
                // The customer's events are loaded once (through the customer index) for both checks.
                var customerEvents = await CheckDocumentsAsync(customer, mismatches, cancellation);
                foreach (var difference in await WriteSideCheck.DifferencesAsync(store, dataSource, customerEvents.Select(e => e.Data).ToList(), customer, cancellation))
                    mismatches.Add(new AuditMismatch("account", customer, null, difference, "the fold of the customer's events", "the accounts row"));
            }
            catch (Marten.Exceptions.EventDeserializationFailureException e)
            {
                // An event edited into something the ledger cannot read: the chain names it; the replay cannot run.
                mismatches.Add(new AuditMismatch("replay", customer, null, $"The customer's events cannot be replayed: sequence {e.Sequence} ({e.EventTypeName}) is not a readable event.",
                    "a readable event", "unreadable data"));
            }

            if (mismatches.Count >= MaxMismatchesReported) break;
        }

        if (customerId is null) await CheckOrphanDocumentsAsync(mismatches, cancellation);
        return new AuditVerification(mismatches.Count == 0, streams, events, mismatches.Take(MaxMismatchesReported).ToList());
    }

    /// <summary>The streams of a customer: its own, and every usage stream holding usage charged to it.</summary>
    private async Task<string[]> StreamsOfAsync(string customerId, CancellationToken cancellation)
    {
        await using var command = dataSource.CreateCommand(
            $"select distinct stream_id from {Schema}.mt_events where {AuditTrail.ConcernsACustomer} and {AuditTrail.CustomerOf} = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = customerId });
        var keys = new List<string> { StreamKeys.Customer(customerId) };
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation)) keys.Add(reader.GetString(0));
        return keys.Distinct(StringComparer.Ordinal).ToArray();
    }

    private async Task<(long Streams, long Events)> CheckChainsAsync(string? customerId, List<AuditMismatch> mismatches, CancellationToken cancellation)
    {
        var keys = customerId is null ? null : await StreamsOfAsync(customerId, cancellation);
        var heads = new Dictionary<string, (long Version, string Hash)>(StringComparer.Ordinal);
        // Heads and events from one snapshot: an append committed between two reads would look like tampering.
        await using var connection = await dataSource.OpenConnectionAsync(cancellation);
        await using var snapshot = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellation);
        await using (var command = new NpgsqlCommand(
                         $"select stream_key, version, hash from {Schema}.{AuditChain.HeadsTable} where $1::text[] is null or stream_key = any($1)", connection))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)keys ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text });
            await using var reader = await command.ExecuteReaderAsync(cancellation);
            while (await reader.ReadAsync(cancellation)) heads[reader.GetString(0)] = (reader.GetInt64(1), reader.GetString(2));
        }

        long streams = 0, events = 0;
        var buffer = new ArrayBufferWriter<byte>(2048);
        await using (var command = new NpgsqlCommand(
                         $"select stream_id, version, type, user_name, correlation_id, data::text, headers::text from {Schema}.mt_events " +
                         $"where ($1::text[] is null or stream_id = any($1)) and stream_id <> '{MartenTombstoneStream}' order by stream_id, version", connection))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)keys ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text });
            await using var reader = await command.ExecuteReaderAsync(cancellation);
            StreamCheck? current = null;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            while (await reader.ReadAsync(cancellation))
            {
                var key = reader.GetString(0);
                if (current?.Key != key)
                {
                    current?.End(heads, seen, mismatches);
                    current = new StreamCheck(key);
                    streams++;
                }

                events++;
                using var data = JsonDocument.Parse(reader.GetString(5));
                using var headers = reader.IsDBNull(6) ? null : JsonDocument.Parse(reader.GetString(6));
                current.Next(reader.GetInt64(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                    reader.IsDBNull(4) ? null : reader.GetString(4), data.RootElement, headers?.RootElement, buffer, mismatches);
            }

            current?.End(heads, seen, mismatches);
            foreach (var (key, head) in heads.Where(h => !seen.Contains(h.Key)).OrderBy(h => h.Key, StringComparer.Ordinal))
            {
                mismatches.Add(new AuditMismatch("head", key, head.Version, "The stream has a head but no events: the whole stream was deleted.",
                        $"{head.Version} events", "none"));
            }
        }

        return (streams, events);
    }

    /// <summary>One stream's chain, walked in version order.</summary>
    private sealed class StreamCheck(string key)
    {
        public string Key { get; } = key;
        private long _expectedVersion = 1;
        private string _previous = AuditChain.Genesis;
        private string? _lastStoredHash;
        private long _lastVersion;

        public void Next(long version, string type, string? actor, string? correlationId, JsonElement data, JsonElement? headers,
            ArrayBufferWriter<byte> buffer, List<AuditMismatch> mismatches)
        {
            string? Header(string name) => headers is { ValueKind: JsonValueKind.Object } h && h.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
                ? v.GetString() : null;

            if (version > _expectedVersion)
                mismatches.Add(new AuditMismatch("chain", Key, _expectedVersion,
                    version == _expectedVersion + 1 ? $"Version {_expectedVersion} is missing." : $"Versions {_expectedVersion} to {version - 1} are missing.",
                    $"version {_expectedVersion}", $"version {version}"));

            var storedHash = Header(AuditChain.HashHeader);
            var storedPrevious = Header(AuditChain.PreviousHashHeader);
            var occurredAt = Header(AuditChain.OccurredAtHeader);
            if (storedHash is null || storedPrevious is null || occurredAt is null)
            {
                mismatches.Add(new AuditMismatch("chain", Key, version, "The event carries no hash: it was written outside the chain or its headers were removed.",
                    "hash, previousHash and occurredAt headers", "missing"));
                _previous = storedHash ?? _previous;
            }
            else
            {
                if (storedPrevious != _previous)
                    mismatches.Add(new AuditMismatch("chain", Key, version,
                        "previousHash is not the hash of the event before it (an event before it was removed, inserted or changed).", _previous, storedPrevious));
                var recomputed = AuditChain.Hash(storedPrevious, new AuditChain.Link(Key, version, type, actor, correlationId, occurredAt), data, buffer);
                if (recomputed != storedHash)
                    mismatches.Add(new AuditMismatch("chain", Key, version,
                        "The event does not match its hash: its data, type, version, actor, correlation id or time was changed after it was written.",
                        recomputed, storedHash));
                // Go on from what is stored, so one changed event is reported once, not for every event after it.
                _previous = storedHash;
            }

            _lastStoredHash = storedHash;
            _lastVersion = version;
            _expectedVersion = version + 1;
        }

        public void End(Dictionary<string, (long Version, string Hash)> heads, HashSet<string> seen, List<AuditMismatch> mismatches)
        {
            seen.Add(Key);
            if (!heads.TryGetValue(Key, out var head))
            {
                mismatches.Add(new AuditMismatch("head", Key, _lastVersion, "The stream has no head: it was created outside the ledger, or its head was deleted.",
                    "a head", "none"));
                return;
            }

            if (head.Version > _lastVersion)
                mismatches.Add(new AuditMismatch("head", Key, _lastVersion + 1,
                    $"The stream ends at version {_lastVersion} but its head is at {head.Version}: the last event(s) were deleted.", $"version {head.Version}", $"version {_lastVersion}"));
            else if (head.Version < _lastVersion)
                mismatches.Add(new AuditMismatch("head", Key, head.Version + 1,
                    $"The stream goes on past its head at version {head.Version}: events were added outside the ledger.", $"version {head.Version}", $"version {_lastVersion}"));
            else if (head.Hash != _lastStoredHash)
                mismatches.Add(new AuditMismatch("head", Key, _lastVersion, "The last event's hash is not the head's: the chain was rewritten.", head.Hash, _lastStoredHash));
        }
    }

    private async Task<List<string>> CustomersAsync(CancellationToken cancellation)
    {
        await using var command = dataSource.CreateCommand($"select substr(id, 10) from {Schema}.mt_streams where id like 'customer/%' order by id");
        var customers = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation)) customers.Add(reader.GetString(0));
        return customers;
    }

    /// <summary>
    /// The customer's wallet row and invoice documents against a replay of its events: in one
    /// transaction the stored rows are locked and read, deleted, rebuilt by the same projections
    /// that keep them, read again, and the transaction rolled back.
    /// </summary>
    private async Task<List<IEvent>> CheckDocumentsAsync(string customerId, List<AuditMismatch> mismatches, CancellationToken cancellation)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await CheckDocumentsOnceAsync(customerId, mismatches, cancellation);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.SerializationFailure && attempt < 3)
            {
                // An invoice of this customer changed while it was being checked: check again from a new snapshot.
            }
        }
    }

    /// <summary>
    /// One snapshot (REPEATABLE READ) for the stored rows and the events, so they agree without
    /// locking anything a writer needs: the wallet is replayed into a temporary table, the invoice
    /// documents (written only by a period close) in place, and the transaction is rolled back.
    /// </summary>
    private async Task<List<IEvent>> CheckDocumentsOnceAsync(string customerId, List<AuditMismatch> mismatches, CancellationToken cancellation)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellation);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellation);
        await using var session = store.LightweightSession(Marten.Services.SessionOptions.ForTransaction(transaction));

        const string replayTable = "pg_temp.verify_wallets";
        static string WalletRows(string table) => $"select t::text from {table} t where customer_id = $1";
        var invoiceRows = $"select id || ' ' || data::text from {Schema}.mt_doc_invoice where data -> 'document' ->> 'customerId' = $1";
        var liveWallet = await RowsAsync(connection, WalletRows($"{Schema}.{WalletTable.TableName}"), customerId, cancellation);
        var liveInvoices = await RowsAsync(connection, invoiceRows, customerId, cancellation);
        await using (var prepare = connection.CreateCommand())
        {
            prepare.CommandText = $"create temp table verify_wallets (like {Schema}.{WalletTable.TableName} including all) on commit drop";
            await prepare.ExecuteNonQueryAsync(cancellation);
        }

        await using (var delete = connection.CreateCommand())
        {
            delete.CommandText = $"delete from {Schema}.mt_doc_invoice where data -> 'document' ->> 'customerId' = $1";
            delete.Parameters.Add(new NpgsqlParameter { Value = customerId });
            await delete.ExecuteNonQueryAsync(cancellation);
        }

        var events = await EventsOfAsync(session, connection, customerId, cancellation);
        await WalletTable.Into(replayTable).ApplyAsync(session, events.Where(e => WalletTable.EventTypes.Contains(e.EventType)).ToList(), cancellation);
        var invoices = new InvoiceProjection();
        foreach (var e in events.Where(e => e.Data is InvoiceIssued)) await invoices.ApplyAsync(session, e, cancellation);
        await session.SaveChangesAsync(cancellation);

        Compare("wallet", customerId, liveWallet, await RowsAsync(connection, WalletRows(replayTable), customerId, cancellation), mismatches);
        Compare("invoice", customerId, liveInvoices, await RowsAsync(connection, invoiceRows, customerId, cancellation), mismatches);
        await transaction.RollbackAsync(cancellation);
        return events;
    }

    /// <summary>The customer's stream and the usage charged to it, in sequence order, as Marten events.</summary>
    internal static async Task<List<IEvent>> EventsOfAsync(IDocumentSession session, NpgsqlConnection connection, string customerId, CancellationToken cancellation)
    {
        var events = (await session.Events.FetchStreamAsync(StreamKeys.Customer(customerId), token: cancellation)).ToList();
        var schema = session.DocumentStore.Options.DatabaseSchemaName;
        var serializer = session.DocumentStore.Options.Serializer();
        await using var command = connection.CreateCommand();
        command.CommandText = $"select seq_id, timestamp, data, stream_id, version from {schema}.mt_events " +
                              "where type = 'usage_recorded' and data ->> 'customerId' = $1 order by seq_id";
        command.Parameters.Add(new NpgsqlParameter { Value = customerId });
        await using (var reader = await command.ExecuteReaderAsync(cancellation))
        {
            while (await reader.ReadAsync(cancellation))
            {
                var e = session.Events.BuildEvent(serializer.FromJson<UsageRecorded>(reader, 2));
                e.Sequence = reader.GetInt64(0);
                e.Timestamp = reader.GetFieldValue<DateTimeOffset>(1);
                e.StreamKey = reader.GetString(3);
                e.Version = reader.GetInt64(4);
                events.Add(e);
            }
        }

        events.Sort((a, b) => a.Sequence.CompareTo(b.Sequence));
        return events;
    }

    private static async Task<List<string>> RowsAsync(NpgsqlConnection connection, string sql, string customerId, CancellationToken cancellation)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.Add(new NpgsqlParameter { Value = customerId });
        var rows = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation)) rows.Add(reader.GetString(0));
        rows.Sort(StringComparer.Ordinal);
        return rows;
    }

    private static void Compare(string kind, string customerId, List<string> live, List<string> replayed, List<AuditMismatch> mismatches)
    {
        if (live.SequenceEqual(replayed, StringComparer.Ordinal)) return;
        var onlyLive = live.Except(replayed, StringComparer.Ordinal).ToList();
        var onlyReplayed = replayed.Except(live, StringComparer.Ordinal).ToList();
        for (var i = 0; i < Math.Max(onlyLive.Count, onlyReplayed.Count); i++)
        {
            mismatches.Add(new AuditMismatch(kind, customerId, null, $"The stored {kind} is not what a replay of the customer's events gives.",
                i < onlyReplayed.Count ? onlyReplayed[i] : "none", i < onlyLive.Count ? onlyLive[i] : "none"));
        }
    }

    /// <summary>Wallet rows and invoice documents of customers the ledger has no stream for.</summary>
    private async Task CheckOrphanDocumentsAsync(List<AuditMismatch> mismatches, CancellationToken cancellation)
    {
        await using var command = dataSource.CreateCommand(
            $"select 'wallet', customer_id from {Schema}.{WalletTable.TableName} w where not exists (select 1 from {Schema}.mt_streams s where s.id = 'customer/' || w.customer_id) " +
            $"union all select 'invoice', id from {Schema}.mt_doc_invoice i where not exists (select 1 from {Schema}.mt_streams s where s.id = 'customer/' || (i.data -> 'document' ->> 'customerId'))");
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation))
            mismatches.Add(new AuditMismatch(reader.GetString(0), reader.GetString(1), null, $"A {reader.GetString(0)} with no customer stream behind it.", "none", "a row"));
    }
}
