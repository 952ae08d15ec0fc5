using Ledger.Common;

namespace Ledger.Customers;

/// <summary>A customer was registered; this also opens the customer's prepaid wallet.</summary>
public sealed record CustomerRegistered(
    string CustomerId,
    string Name,
    string PlanId,
    string Currency,
    Money CreditLimit,
    Money LowBalanceThreshold,
    string BillingTimeZone,
    DateTimeOffset RegisteredAt);

/// <summary>The mutable terms of a customer changed (currency and time zone never do).</summary>
public sealed record CustomerUpdated(
    string CustomerId,
    string Name,
    string PlanId,
    Money CreditLimit,
    Money LowBalanceThreshold,
    DateTimeOffset UpdatedAt);
