using Ledger.Common;
using Ledger.Hosting;
using Ledger.Plans;
using Marten;
using Ledger.Wallets;
using Npgsql;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using NodaTime;
using Wolverine.Http;

namespace Ledger.Customers;

public sealed record RegisterCustomerRequest(
    string? Name,
    string? PlanId,
    string? Currency,
    DecimalText CreditLimit,
    DecimalText LowBalanceThreshold,
    string? BillingTimeZone);

/// <summary>The customer's terms as validated from a request.</summary>
public sealed record CustomerTerms(
    string Name,
    string PlanId,
    string Currency,
    Money CreditLimit,
    Money LowBalanceThreshold,
    string BillingTimeZone);

public static class CustomerRules
{
    public const string DefaultTimeZone = "UTC";

    public static CustomerTerms? Validate(RegisterCustomerRequest request, FieldErrors errors)
    {
        Check.Text(errors, "name", request.Name, 200);
        Check.ClientId(errors, "planId", request.PlanId);

        var currency = request.Currency;
        if (!Currencies.IsValidCode(currency)) errors.Add("currency", "Must be an ISO 4217 code such as \"INR\".");
        var minorUnits = Currencies.IsValidCode(currency) ? Currencies.MinorUnits(currency!) : 2;

        var creditLimit = Check.Decimal(errors, "creditLimit", request.CreditLimit, minorUnits, required: false, min: 0m) ?? 0m;
        var threshold = Check.Decimal(errors, "lowBalanceThreshold", request.LowBalanceThreshold, minorUnits, required: false, min: 0m) ?? 0m;

        var zone = request.BillingTimeZone ?? DefaultTimeZone;
        if (DateTimeZoneProviders.Tzdb.GetZoneOrNull(zone) is null)
        {
            errors.Add("billingTimeZone", "Must be an IANA time zone such as \"Asia/Kolkata\".");
        }

        return errors.Any
            ? null
            : new CustomerTerms(request.Name!.Trim(), request.PlanId!, currency!, new Money(creditLimit, currency!),
                new Money(threshold, currency!), zone);
    }

    /// <summary>What registering these terms means for a customer that may already exist.</summary>
    public static CustomerDecision Decide(Customer? existing, string customerId, CustomerTerms terms, DateTimeOffset now)
    {
        if (existing is null)
        {
            return new CustomerDecision.Registered(new CustomerRegistered(customerId, terms.Name, terms.PlanId, terms.Currency,
                terms.CreditLimit, terms.LowBalanceThreshold, terms.BillingTimeZone, now));
        }

        if (existing.Currency != terms.Currency)
        {
            return new CustomerDecision.Refused("currency-change",
                $"Customer '{customerId}' is billed in {existing.Currency}; the currency of a customer cannot change.");
        }

        if (existing.BillingTimeZone != terms.BillingTimeZone)
        {
            return new CustomerDecision.Refused("time-zone-change",
                $"Customer '{customerId}' is billed in time zone {existing.BillingTimeZone}; it cannot change.");
        }

        var unchanged = existing.Name == terms.Name && existing.PlanId == terms.PlanId &&
                        existing.CreditLimit.Amount == terms.CreditLimit.Amount &&
                        existing.LowBalanceThreshold.Amount == terms.LowBalanceThreshold.Amount;
        return unchanged
            ? new CustomerDecision.Unchanged()
            : new CustomerDecision.Updated(new CustomerUpdated(customerId, terms.Name, terms.PlanId, terms.CreditLimit,
                terms.LowBalanceThreshold, now));
    }
}

public abstract record CustomerDecision
{
    public sealed record Registered(CustomerRegistered Event) : CustomerDecision;

    public sealed record Updated(CustomerUpdated Event) : CustomerDecision;

    public sealed record Unchanged : CustomerDecision;

    public sealed record Refused(string Slug, string Detail) : CustomerDecision;
}

public static class RegisterCustomerEndpoint
{
    [WolverinePut("/v1/customers/{customerId}", OperationId = "RegisterCustomer")]
    [ProducesResponseType<CustomerResponse>(200)]
    [ProducesResponseType<CustomerResponse>(201)]
    [ProducesProblem(401)]
    [ProducesProblem(403)]
    [ProducesProblem(400)]
    [ProducesProblem(409)]
    [Authorize(Policy = Scopes.BillingWrite)]
    [JsonRequestBody(typeof(RegisterCustomerRequest))]
    [Tags("Customers")]
    public static async Task<IResult> Put(string customerId, HttpContext http, IDocumentStore store, NpgsqlDataSource dataSource,
        TimeProvider clock, Ledger.Metering.Ingestion.CustomerDirectory directory)
    {
        var errors = new FieldErrors();
        Check.ClientId(errors, "customerId", customerId);
        if (errors.Any) return errors.ToProblem();

        var body = await JsonBody.ReadAsync<RegisterCustomerRequest>(http.Request);
        if (body.Problem is not null) return body.Problem;

        var terms = CustomerRules.Validate(body.Value!, errors);
        if (terms is null) return errors.ToProblem();

        var cancellation = http.RequestAborted;
        await using var tx = await LedgerTransaction.BeginAsync(store, dataSource, cancellation);
        var session = tx.Session;
        EventMetadata.Stamp(session, http);

        // Registrations of one customer queue on an advisory lock (the stream may not exist yet); then
        // the same lock order as money commands (wallet row, then stream), so the two never deadlock.
        var key = StreamKeys.Customer(customerId);
        await tx.AdvisoryLockAsync(key, cancellation);
        await WalletTable.ReadAsync(tx.Connection, tx.Transaction, store.Options.DatabaseSchemaName, customerId, forUpdate: true, cancellation);
        var existing = await session.LoadAsync<Customer>(key, cancellation);
        var decision = CustomerRules.Decide(existing, customerId, terms, clock.GetUtcNow());
        if (decision is CustomerDecision.Refused refused) return Problems.Conflict(refused.Slug, refused.Detail);
        if (decision is CustomerDecision.Unchanged) return Results.Ok(CustomerResponse.From(existing!));

        var plan = await session.LoadAsync<Plan>(StreamKeys.Plan(terms.PlanId), cancellation);
        if (plan is null) return Problems.Validation("planId", $"No plan '{terms.PlanId}'.");
        if (plan.Currency != terms.Currency)
        {
            return Problems.Validation("planId", $"Plan '{terms.PlanId}' is priced in {plan.Currency}, not {terms.Currency}.");
        }

        switch (decision)
        {
            case CustomerDecision.Registered registered:
                session.Events.StartStream(key, registered.Event);
                await tx.CommitAsync(cancellation);
                return Results.Created($"/v1/customers/{customerId}", CustomerResponse.From(Customer.Create(registered.Event)));
            case CustomerDecision.Updated updated:
                session.Events.Append(key, updated.Event);
                await tx.CommitAsync(cancellation);
                directory.Evict(customerId: customerId);
                return Results.Ok(CustomerResponse.From(existing!.Apply(updated.Event)));
            default:
                throw new InvalidOperationException("Unknown customer decision.");
        }
    }
}
