using JasperFx.Events;
using Ledger.Common;
using Ledger.Metering;
using Marten;
using Npgsql;

namespace Ledger.Wallets;

/// <summary>
/// The events of one wallet in the order the ledger recorded them: the customer's stream and the
/// usage charged to the customer (found through a partial index on the usage events' customer).
/// </summary>
public static class WalletHistory
{
    /// <summary>
    /// Usage events by customer and billing period: a wallet's history reads the customer's usage,
    /// a period close the customer's usage of one period.
    /// </summary>
    public const string UsageByCustomerIndex = "ix_usage_recorded_customer_period";

    public static string IndexDdl(string schema) =>
        $"create index if not exists {UsageByCustomerIndex} on {schema}.mt_events ((data ->> 'customerId'), (data ->> 'period'), seq_id) " +
        $"where type = 'usage_recorded'; drop index if exists {schema}.ix_usage_recorded_customer";

    public record Entry(long Sequence, DateTimeOffset RecordedAt, object Data, string? Actor, string StreamKey);

    public static async Task<List<Entry>> LoadAsync(IQuerySession session, NpgsqlDataSource dataSource, string customerId,
        DateTimeOffset? upTo, CancellationToken cancellation)
    {
        var stream = await session.Events.FetchStreamAsync(StreamKeys.Customer(customerId), timestamp: upTo?.ToUniversalTime(), token: cancellation);
        var entries = stream.Select(e => new Entry(e.Sequence, e.Timestamp, e.Data, e.UserName, e.StreamKey!)).ToList();

        var schema = session.DocumentStore.Options.DatabaseSchemaName;
        var serializer = session.DocumentStore.Options.Serializer();
        await using var command = dataSource.CreateCommand(
            $"select seq_id, timestamp, data, user_name, stream_id from {schema}.mt_events " +
            "where type = 'usage_recorded' and data ->> 'customerId' = $1 and ($2::timestamptz is null or timestamp <= $2) order by seq_id");
        command.Parameters.Add(new NpgsqlParameter { Value = customerId });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)upTo?.ToUniversalTime() ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation))
        {
            var usage = serializer.FromJson<UsageRecorded>(reader, 2);
            entries.Add(new Entry(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), usage, reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetString(4)));
        }

        entries.Sort((a, b) => a.Sequence.CompareTo(b.Sequence));
        return entries;
    }
}
