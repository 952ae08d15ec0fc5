using Ledger.Common;
using Ledger.Hosting;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Ledger.Customers;

public sealed record CustomerResponse(
    string Id,
    string Name,
    string PlanId,
    string Currency,
    string CreditLimit,
    string LowBalanceThreshold,
    string BillingTimeZone,
    string CreatedAt,
    string UpdatedAt)
{
    public static CustomerResponse From(Customer c) => new(c.CustomerId, c.Name, c.PlanId, c.Currency,
        c.CreditLimit.ToMinorUnitString(), c.LowBalanceThreshold.ToMinorUnitString(), c.BillingTimeZone,
        Timestamps.Format(c.CreatedAt), Timestamps.Format(c.UpdatedAt));

    public static CustomerResponse From(Accounts.Account a) => new(a.CustomerId, a.Name, a.PlanId, a.Currency,
        a.CreditLimit.ToMinorUnitString(), a.LowBalanceThreshold.ToMinorUnitString(), a.BillingTimeZone,
        Timestamps.Format(a.CreatedAt), Timestamps.Format(a.UpdatedAt));
}

public static class GetCustomerEndpoint
{
    [WolverineGet("/v1/customers/{customerId}", OperationId = "GetCustomer")]
    [ProducesResponseType<CustomerResponse>(200)]
    [ProducesProblem(401)]
    [ProducesProblem(403)]
    [ProducesProblem(404)]
    [Authorize(Policy = Scopes.WalletsRead)]
    [Tags("Customers")]
    public static async Task<IResult> Get(string customerId, IQuerySession session, CancellationToken cancellation)
    {
        if (!ClientIds.IsValid(customerId)) return Problems.NotFound($"No customer '{customerId}'.");
        var customer = await session.LoadAsync<Customer>(StreamKeys.Customer(customerId), cancellation);
        return customer is null ? Problems.NotFound($"No customer '{customerId}'.") : Results.Ok(CustomerResponse.From(customer));
    }
}
