using Weasel.Postgresql;
using Weasel.Postgresql.Tables;

namespace Ledger.Metering;

/// <summary>The tables of the metering write path, besides Marten's event tables.</summary>
public static class MeteringSchema
{
    /// <summary>Every (customer, event id) ever recorded: the database's dedup guarantee, whatever path the event came by.</summary>
    public const string UsageIds = "usage_event_ids";

    /// <summary>Running quantity per customer, meter and billing period, in recorded order: what real-time rating prices against.</summary>
    public const string PeriodTotals = "usage_period_totals";

    public static IEnumerable<Table> Tables(string schema)
    {
        var ids = new Table(new PostgresqlObjectName(schema, UsageIds, Weasel.Postgresql.SchemaUtils.IdentifierUsage.General));
        ids.AddColumn<string>("customer_id").AsPrimaryKey();
        ids.AddColumn<string>("event_id").AsPrimaryKey();
        yield return ids;

        var totals = new Table(new PostgresqlObjectName(schema, PeriodTotals, Weasel.Postgresql.SchemaUtils.IdentifierUsage.General));
        totals.AddColumn<string>("customer_id").AsPrimaryKey();
        totals.AddColumn<string>("meter").AsPrimaryKey();
        totals.AddColumn<string>("period").AsPrimaryKey();
        totals.AddColumn("quantity", "numeric(28,6)").NotNull();
        yield return totals;
    }
}
