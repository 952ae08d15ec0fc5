using System.Buffers;
using System.Data.Common;
using System.Text.Json;
using Ledger.Common;
using Ledger.Hosting;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Wolverine.Http;

namespace Ledger.Audit;

/// <summary>One event as the audit trail shows it (the fields the hash covers, and where PostgreSQL put it).</summary>
public sealed record AuditEvent(
    long Sequence,
    string StreamKey,
    long Version,
    string Type,
    string OccurredAt,
    string RecordedAt,
    string? Actor,
    string? CorrelationId,
    JsonElement Data,
    string? Hash,
    string? PreviousHash);

public sealed record AuditEventPage(IReadOnlyList<AuditEvent> Items, long? Next);

/// <summary>
/// Every event that concerns a customer — its own stream (registration, plan and terms, wallet
/// movements, invoices) and the usage charged to it — in the order the ledger recorded them. Read
/// through an expression index on (customer, sequence), so one customer's events come in order
/// without sorting anyone's.
/// </summary>
public static class AuditTrail
{
    public const string ByCustomerIndex = "ix_events_by_customer";
    public const int MaxLimit = 1000;
    public const string NdJson = "application/x-ndjson";

    internal const string CustomerOf = "(case when stream_id like 'customer/%' then substr(stream_id, 10) else data ->> 'customerId' end)";
    internal const string ConcernsACustomer = "(stream_id like 'customer/%' or type = 'usage_recorded')";

    public static string IndexDdl(string schema) =>
        $"create index if not exists {ByCustomerIndex} on {schema}.mt_events ({CustomerOf}, seq_id) where {ConcernsACustomer}";

    /// <summary>The customer's events after <paramref name="after"/> in sequence order, recorded in [from, to), as a reader.</summary>
    public static NpgsqlCommand Query(NpgsqlConnection connection, string schema, string customerId, long after, DateTimeOffset? from,
        DateTimeOffset? to, int? limit)
    {
        var command = connection.CreateCommand();
        command.CommandText =
            $"select seq_id, stream_id, version, type, timestamp, user_name, correlation_id, data::text, headers::text from {schema}.mt_events " +
            $"where {ConcernsACustomer} and {CustomerOf} = $1 and seq_id > $2 " +
            "and ($3::timestamptz is null or timestamp >= $3) and ($4::timestamptz is null or timestamp < $4) " +
            "order by seq_id" + (limit is { } n ? $" limit {n}" : "");
        command.Parameters.Add(new NpgsqlParameter { Value = customerId });
        command.Parameters.Add(new NpgsqlParameter { Value = after });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)from?.ToUniversalTime() ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)to?.ToUniversalTime() ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        return command;
    }

    /// <summary>One row of <see cref="Query"/> as the API writes it; data is copied as stored, never re-serialized.</summary>
    public static void Write(Utf8JsonWriter json, DbDataReader row)
    {
        var headers = row.IsDBNull(8) ? null : JsonDocument.Parse(row.GetString(8));
        string? Header(string name) => headers is not null && headers.RootElement.ValueKind == JsonValueKind.Object &&
                                       headers.RootElement.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        var recordedAt = row.GetFieldValue<DateTimeOffset>(4);

        json.WriteStartObject();
        json.WriteNumber("sequence", row.GetInt64(0));
        json.WriteString("streamKey", row.GetString(1));
        json.WriteNumber("version", row.GetInt64(2));
        json.WriteString("type", row.GetString(3));
        json.WriteString("occurredAt", Header(AuditChain.OccurredAtHeader) ?? AuditChain.FormatTime(recordedAt));
        json.WriteString("recordedAt", AuditChain.FormatTime(recordedAt));
        WriteNullable(json, "actor", row.IsDBNull(5) ? null : row.GetString(5));
        WriteNullable(json, "correlationId", row.IsDBNull(6) ? null : row.GetString(6));
        json.WritePropertyName("data");
        json.WriteRawValue(row.GetString(7), skipInputValidation: true);
        WriteNullable(json, "hash", Header(AuditChain.HashHeader));
        WriteNullable(json, "previousHash", Header(AuditChain.PreviousHashHeader));
        json.WriteEndObject();
        headers?.Dispose();
    }

    private static void WriteNullable(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null) json.WriteNull(name);
        else json.WriteString(name, value);
    }

    public static async Task<bool> CustomerExistsAsync(NpgsqlDataSource dataSource, string schema, string customerId, CancellationToken cancellation,
        bool evenIfDeleted = false)
    {
        await using var command = dataSource.CreateCommand($"select exists (select 1 from {schema}.mt_streams where id = $1)" +
                                                           (evenIfDeleted ? $" or exists (select 1 from {schema}.{AuditChain.HeadsTable} where stream_key = $1)" : ""));
        command.Parameters.Add(new NpgsqlParameter { Value = StreamKeys.Customer(customerId) });
        return (bool)(await command.ExecuteScalarAsync(cancellation))!;
    }
}

public static class GetAuditEventsEndpoint
{
    /// <summary>
    /// Every event that concerns the customer in the order the ledger recorded it, with its hash
    /// chain; <c>from</c>/<c>to</c> filter on when it was recorded, <c>after</c> (a sequence) and
    /// <c>limit</c> (≤ 1,000, default 100) page. With <c>Accept: application/x-ndjson</c>, every
    /// matching event, one JSON object per line, streamed.
    /// </summary>
    [WolverineGet("/v1/audit/customers/{customerId}/events", OperationId = "GetAuditEvents")]
    [ProducesResponseType<AuditEventPage>(200)]
    [ProducesResponseType(typeof(AuditEvent), 200, AuditTrail.NdJson)]
    [ProducesProblem(400)]
    [ProducesProblem(401)]
    [ProducesProblem(403)]
    [ProducesProblem(404)]
    [Authorize(Policy = Scopes.FinanceRead)]
    [Tags("Audit")]
    public static async Task<IResult> Get(string customerId, string? from, string? to, string? after, string? limit, HttpContext http,
        IDocumentStore store, NpgsqlDataSource dataSource, CancellationToken cancellation)
    {
        if (!ClientIds.IsValid(customerId)) return Problems.NotFound($"No customer '{customerId}'.");
        var errors = new FieldErrors();
        DateTimeOffset start = default, end = default;
        long afterSequence = 0;
        var pageSize = 100;
        if (from is not null && !Timestamps.TryParse(from, out start)) errors.Add("from", "Must be an RFC 3339 timestamp with offset.");
        if (to is not null && !Timestamps.TryParse(to, out end)) errors.Add("to", "Must be an RFC 3339 timestamp with offset.");
        if (after is not null && (!long.TryParse(after, System.Globalization.NumberStyles.None, null, out afterSequence))) errors.Add("after", "Must be a sequence number (a whole number ≥ 0).");
        if (limit is not null && (!int.TryParse(limit, System.Globalization.NumberStyles.None, null, out pageSize) || pageSize is < 1 or > AuditTrail.MaxLimit))
            errors.Add("limit", $"Must be a whole number from 1 to {AuditTrail.MaxLimit}.");
        if (errors.Any) return errors.ToProblem();

        var schema = store.Options.DatabaseSchemaName;
        if (!await AuditTrail.CustomerExistsAsync(dataSource, schema, customerId, cancellation)) return Problems.NotFound($"No customer '{customerId}'.");
        DateTimeOffset? fromFilter = from is null ? null : start, toFilter = to is null ? null : end;

        if (http.Request.Headers.Accept.Any(a => a is not null && a.Contains(AuditTrail.NdJson, StringComparison.OrdinalIgnoreCase)))
        {
            return Results.Stream(async output =>
            {
                await using var connection = await dataSource.OpenConnectionAsync(cancellation);
                await using var command = AuditTrail.Query(connection, schema, customerId, afterSequence, fromFilter, toFilter, limit: null);
                await using var reader = await command.ExecuteReaderAsync(cancellation);
                var buffer = new ArrayBufferWriter<byte>(64 * 1024);
                await using var json = new Utf8JsonWriter(buffer);
                while (await reader.ReadAsync(cancellation))
                {
                    AuditTrail.Write(json, reader);
                    json.Flush();
                    json.Reset();
                    buffer.Write("\n"u8);
                    if (buffer.WrittenCount < 48 * 1024) continue;
                    await output.WriteAsync(buffer.WrittenMemory, cancellation);
                    buffer.ResetWrittenCount();
                }

                await output.WriteAsync(buffer.WrittenMemory, cancellation);
            }, AuditTrail.NdJson + "; charset=utf-8");
        }

        await using (var connection = await dataSource.OpenConnectionAsync(cancellation))
        {
            await using var command = AuditTrail.Query(connection, schema, customerId, afterSequence, fromFilter, toFilter, pageSize + 1);
            await using var reader = await command.ExecuteReaderAsync(cancellation);
            var buffer = new ArrayBufferWriter<byte>(16 * 1024);
            await using var json = new Utf8JsonWriter(buffer);
            json.WriteStartObject();
            json.WriteStartArray("items");
            var count = 0;
            long last = 0;
            var more = false;
            while (await reader.ReadAsync(cancellation))
            {
                if (count == pageSize)
                {
                    more = true;
                    break;
                }

                AuditTrail.Write(json, reader);
                last = reader.GetInt64(0);
                count++;
            }

            json.WriteEndArray();
            if (more) json.WriteNumber("next", last);
            else json.WriteNull("next");
            json.WriteEndObject();
            await json.FlushAsync(cancellation);
            return Results.Bytes(buffer.WrittenMemory.ToArray(), "application/json; charset=utf-8");
        }
    }
}
