using Ledger.Common;
using Marten.Events.Aggregation;

namespace Ledger.Customers;

public sealed record Customer(
    string Id,
    string CustomerId,
    string Name,
    string PlanId,
    string Currency,
    Money CreditLimit,
    Money LowBalanceThreshold,
    string BillingTimeZone,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    /// <summary>
    /// The version of what the projection writes. Raise it when a change to the code changes the
    /// documents it gives: the next start rebuilds them blue/green (Operations/ProjectionVersions.cs).
    /// </summary>
    public const int ProjectionVersion = 1;

    public static Customer Create(CustomerRegistered e) =>
        new(StreamKeys.Customer(e.CustomerId), e.CustomerId, e.Name, e.PlanId, e.Currency, e.CreditLimit,
            e.LowBalanceThreshold, e.BillingTimeZone, e.RegisteredAt, e.RegisteredAt);

    public Customer Apply(CustomerUpdated e) => this with
    {
        Name = e.Name,
        PlanId = e.PlanId,
        CreditLimit = e.CreditLimit,
        LowBalanceThreshold = e.LowBalanceThreshold,
        UpdatedAt = e.UpdatedAt,
    };
}

public sealed class CustomerProjection : SingleStreamProjection<Customer, string>
{
    public static Customer Create(CustomerRegistered e) => Customer.Create(e);

    public static Customer Apply(CustomerUpdated e, Customer customer) => customer.Apply(e);
}
