using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using JasperFx.Events;
using Marten;
using Npgsql;
using Weasel.Postgresql;
using Weasel.Postgresql.Tables;

namespace Ledger.Audit;

/// <summary>
/// The tamper-evident chain of every stream: each event carries <c>hash = SHA-256(previousHash ‖
/// canonical bytes of the event)</c> and the <c>previousHash</c> it was chained to (the first
/// event of a stream to 64 zeros), in its Marten headers, written in the same insert as the event.
/// The hash covers what the writer knows before the insert — stream, version, type, data, the
/// event's own time, actor, correlation id — not what PostgreSQL assigns (sequence, server
/// timestamp). The head of every stream (last version, last hash) is write-side state in
/// <c>stream_heads</c>, advanced in the same transaction, so a deleted last event or a deleted
/// whole stream is found too. The form is specified in docs/audit.md.
/// </summary>
public static class AuditChain
{
    public const string HeadsTable = "stream_heads";
    public const string HashHeader = "hash";
    public const string PreviousHashHeader = "previousHash";
    public const string OccurredAtHeader = "occurredAt";
    public static readonly string Genesis = new('0', 64);

    public static Table HeadsDefinition(string schema)
    {
        var table = new Table(new PostgresqlObjectName(schema, HeadsTable, Weasel.Postgresql.SchemaUtils.IdentifierUsage.General));
        table.AddColumn<string>("stream_key").AsPrimaryKey();
        table.AddColumn<long>("version").NotNull();
        table.AddColumn<string>("hash").NotNull();
        return table;
    }

    /// <summary>The event's own time as the chain holds it: UTC, microseconds (what PostgreSQL keeps), fixed width.</summary>
    public static string FormatTime(DateTimeOffset time) =>
        time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>The fields of an event the hash covers, as the audit API shows them.</summary>
    public sealed record Link(string StreamKey, long Version, string Type, string? Actor, string? CorrelationId, string OccurredAt);

    /// <summary><c>SHA-256(previousHash ‖ canonical envelope)</c>, lower-case hex. <paramref name="data"/> is the event's JSON.</summary>
    public static string Hash(string previousHash, Link link, JsonElement data, ArrayBufferWriter<byte>? buffer = null)
    {
        buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        buffer.Write(Convert.FromHexString(previousHash));
        // Members in code point order: actor, correlationId, data, occurredAt, streamKey, type, version.
        CanonicalJson.WriteAscii(buffer, "{\"actor\":");
        CanonicalJson.WriteString(buffer, link.Actor);
        CanonicalJson.WriteAscii(buffer, ",\"correlationId\":");
        CanonicalJson.WriteString(buffer, link.CorrelationId);
        CanonicalJson.WriteAscii(buffer, ",\"data\":");
        CanonicalJson.Write(buffer, data);
        CanonicalJson.WriteAscii(buffer, ",\"occurredAt\":");
        CanonicalJson.WriteString(buffer, link.OccurredAt);
        CanonicalJson.WriteAscii(buffer, ",\"streamKey\":");
        CanonicalJson.WriteString(buffer, link.StreamKey);
        CanonicalJson.WriteAscii(buffer, ",\"type\":");
        CanonicalJson.WriteString(buffer, link.Type);
        CanonicalJson.WriteAscii(buffer, ",\"version\":");
        var digits = buffer.GetSpan(20);
        link.Version.TryFormat(digits, out var written, default, CultureInfo.InvariantCulture);
        buffer.Advance(written);
        CanonicalJson.WriteAscii(buffer, "}");
        return Convert.ToHexStringLower(SHA256.HashData(buffer.WrittenSpan));
    }

    /// <summary>
    /// Chains the events a session is about to save: runs after Marten has given every event its
    /// version and before the batch is built, so the headers go out with the same insert.
    /// </summary>
    public sealed class Listener(TimeProvider clock) : DocumentSessionListenerBase
    {
        public override async Task BeforeSaveChangesAsync(IDocumentSession session, CancellationToken token)
        {
            var streams = session.PendingChanges.Streams().Where(s => s.Events.Count > 0).ToList();
            if (streams.Count == 0) return;

            var schema = session.DocumentStore.Options.DatabaseSchemaName;
            var appended = streams.Where(s => !IsNew(s)).Select(s => s.Key!).Distinct(StringComparer.Ordinal).ToArray();
            var heads = appended.Length == 0 ? new Dictionary<string, (long Version, string Hash)>() : await LockHeadsAsync(session, schema, appended, token);

            var serializer = session.DocumentStore.Options.Serializer();
            var buffer = new ArrayBufferWriter<byte>(2048);
            var json = new ArrayBufferWriter<byte>(2048);
            var occurredAt = FormatTime(clock.GetUtcNow());
            var started = new List<(string Key, long Version, string Hash)>();
            var advanced = new List<(string Key, long Version, string Hash)>();

            foreach (var stream in streams)
            {
                var key = stream.Key ?? throw new InvalidOperationException("The ledger's streams are keyed by string.");
                var first = stream.Events[0].Version;
                string previous;
                if (IsNew(stream))
                {
                    previous = Genesis;
                }
                else if (!heads.TryGetValue(key, out var head))
                {
                    throw new InvalidOperationException($"Stream {key} has no head in {HeadsTable}: it was written outside the chain or its head was deleted.");
                }
                else if (head.Version != first - 1)
                {
                    throw new JasperFx.ConcurrencyException($"Stream {key} is at version {head.Version}, not {first - 1}.", null!);
                }
                else
                {
                    previous = head.Hash;
                }

                long version = 0;
                for (var i = 0; i < stream.Events.Count; i++)
                {
                    var e = stream.Events[i];
                    // An append without an expected version leaves the versions to PostgreSQL: a new stream's are 1..n.
                    version = e.Version > 0 ? e.Version : i + 1;
                    e.SetHeader(OccurredAtHeader, occurredAt);
                    e.SetHeader(PreviousHashHeader, previous);
                    json.ResetWrittenCount();
                    serializer.WriteToCleanJson(json, e.Data);
                    using var data = JsonDocument.Parse(json.WrittenMemory);
                    previous = Hash(previous, new Link(key, version, e.EventTypeName, e.UserName, e.CorrelationId, occurredAt), data.RootElement, buffer);
                    e.SetHeader(HashHeader, previous);
                }

                (IsNew(stream) ? started : advanced).Add((key, version, previous));
            }

            if (started.Count > 0)
            {
                session.QueueSqlCommand($"insert into {schema}.{HeadsTable} (stream_key, version, hash) select * from unnest(?::text[], ?::bigint[], ?::text[])",
                    started.Select(s => s.Key).ToArray(), started.Select(s => s.Version).ToArray(), started.Select(s => s.Hash).ToArray());
            }

            if (advanced.Count > 0)
            {
                session.QueueSqlCommand(
                    $"update {schema}.{HeadsTable} h set version = a.version, hash = a.hash from unnest(?::text[], ?::bigint[], ?::text[]) as a(key, version, hash) " +
                    "where h.stream_key = a.key",
                    advanced.Select(s => s.Key).ToArray(), advanced.Select(s => s.Version).ToArray(), advanced.Select(s => s.Hash).ToArray());
            }
        }

        /// <summary>
        /// A stream started here: a <c>StartStream</c>, or an append that states no expected version
        /// (the usage writer's new stream per batch). Its head is inserted, so should such a stream
        /// exist already the head's primary key fails the transaction.
        /// </summary>
        private static bool IsNew(StreamAction stream) => stream.ActionType == StreamActionType.Start || stream.ExpectedVersionOnServer is null;

        /// <summary>The heads of the streams appended to, locked in key order until the transaction ends.</summary>
        private static async Task<Dictionary<string, (long Version, string Hash)>> LockHeadsAsync(IDocumentSession session, string schema, string[] keys,
            CancellationToken token)
        {
            await session.BeginTransactionAsync(token);
            await using var command = session.Connection!.CreateCommand();
            command.CommandText = $"select stream_key, version, hash from {schema}.{HeadsTable} where stream_key = any($1) order by stream_key for update";
            command.Parameters.Add(new NpgsqlParameter { Value = keys });
            var heads = new Dictionary<string, (long, string)>(StringComparer.Ordinal);
            await using var reader = await command.ExecuteReaderAsync(token);
            while (await reader.ReadAsync(token)) heads[reader.GetString(0)] = (reader.GetInt64(1), reader.GetString(2));
            return heads;
        }
    }
}
