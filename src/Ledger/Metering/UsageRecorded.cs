using Ledger.Common;

namespace Ledger.Metering;

/// <summary>
/// One usage event, recorded once per (customer, event id) and rated when it was recorded: the
/// amount charged to the wallet in real time, in the billing period it is billed in (a later one,
/// marked <see cref="Late"/>, when its own period was already closed). A usage stream holds the
/// events of one accepted batch.
/// </summary>
public sealed record UsageRecorded(
    string CustomerId,
    string EventId,
    string Meter,
    decimal Quantity,
    DateTimeOffset OccurredAt,
    IReadOnlyDictionary<string, string> Dimensions,
    string Period,
    string PlanId,
    int PlanVersion,
    Money Amount,
    bool Late,
    string Source,
    DateTimeOffset RecordedAt);
