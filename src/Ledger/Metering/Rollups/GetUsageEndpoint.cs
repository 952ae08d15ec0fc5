using System.Globalization;
using Ledger.Common;
using Ledger.Customers;
using Ledger.Hosting;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Wolverine.Http;

namespace Ledger.Metering.Rollups;

public sealed record UsageBucket(string Start, string Meter, IReadOnlyDictionary<string, string> Dimensions, string Quantity, string Amount);

public sealed record UsageResponse(string CustomerId, string Granularity, IReadOnlyList<UsageBucket> Buckets);

public static class GetUsageEndpoint
{
    private static readonly string[] Granularities = ["hour", "day", "month"];

    /// <summary>
    /// Usage buckets (UTC) of one customer, from the rollups the async daemon keeps:
    /// <c>from</c> inclusive, <c>to</c> exclusive, both optional.
    /// </summary>
    [WolverineGet("/v1/customers/{customerId}/usage", OperationId = "GetUsage")]
    [ProducesResponseType<UsageResponse>(200)]
    [ProducesProblem(401)]
    [ProducesProblem(403)]
    [ProducesProblem(400)]
    [ProducesProblem(404)]
    [Authorize(Policy = Scopes.WalletsRead)]
    [Tags("Usage")]
    public static async Task<IResult> Get(string customerId, string? from, string? to, string? granularity, string? meter, string? groupBy,
        IQuerySession session, NpgsqlDataSource dataSource, CancellationToken cancellation)
    {
        var errors = new FieldErrors();
        var start = DateTimeOffset.MinValue;
        var end = DateTimeOffset.MaxValue;
        if (from is not null && !Timestamps.TryParse(from, out start)) errors.Add("from", "Must be an RFC 3339 timestamp with offset.");
        if (to is not null && !Timestamps.TryParse(to, out end)) errors.Add("to", "Must be an RFC 3339 timestamp with offset.");
        granularity ??= "day";
        if (!Granularities.Contains(granularity)) errors.Add("granularity", "Must be hour, day or month.");
        if (meter is not null && !ClientIds.IsValid(meter)) errors.Add("meter", ClientIds.Rule);
        if (groupBy is not null && !ClientIds.IsValid(groupBy)) errors.Add("groupBy", ClientIds.Rule);
        if (errors.Any) return errors.ToProblem();

        if (!ClientIds.IsValid(customerId) || await session.LoadAsync<Customer>(StreamKeys.Customer(customerId), cancellation) is null)
        {
            return Problems.NotFound($"No customer '{customerId}'.");
        }

        var schema = session.DocumentStore.Options.DatabaseSchemaName;
        await using var command = dataSource.CreateCommand(
            $"select date_trunc($2, bucket_start at time zone 'UTC') at time zone 'UTC', meter, dimension_value, sum(quantity), sum(amount) " +
            $"from {schema}.{UsageRollups.TableName} where customer_id = $1 and dimension = $3 and bucket_start >= $4 and bucket_start < $5 " +
            "and ($6::text is null or meter = $6) group by 1, 2, 3 order by 1, 2, 3");
        command.Parameters.Add(new NpgsqlParameter { Value = customerId });
        command.Parameters.Add(new NpgsqlParameter { Value = granularity });
        command.Parameters.Add(new NpgsqlParameter { Value = groupBy ?? "" });
        command.Parameters.Add(new NpgsqlParameter { Value = start == DateTimeOffset.MinValue ? DateTimeOffset.UnixEpoch : start.ToUniversalTime() });
        command.Parameters.Add(new NpgsqlParameter { Value = end == DateTimeOffset.MaxValue ? new DateTimeOffset(9999, 1, 1, 0, 0, 0, TimeSpan.Zero) : end.ToUniversalTime() });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)meter ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });

        var buckets = new List<UsageBucket>();
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation))
        {
            var dimensions = groupBy is null
                ? new Dictionary<string, string>()
                : new Dictionary<string, string> { [groupBy] = reader.GetString(2) };
            buckets.Add(new UsageBucket(
                Timestamps.Format(new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(0), DateTimeKind.Utc))),
                reader.GetString(1), dimensions, DecimalText.Canonical(reader.GetDecimal(3)), Money.Format(reader.GetDecimal(4), Money.LedgerScale)));
        }

        return Results.Ok(new UsageResponse(customerId, granularity, buckets));
    }
}
