using Ledger.Accounts;
using Ledger.Common;
using Ledger.Hosting;
using Ledger.Plans;
using Marten;
using Ledger.Wallets;
using Npgsql;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using NodaTime;
using Wolverine;
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
    /// <summary>
    /// What registering these terms means for the customer as its account has it (null: not
    /// registered yet), given the plan it names as the plan's events have it.
    /// </summary>
    public static CustomerDecision Decide(Account? existing, Plan? plan, string customerId, CustomerTerms terms, DateTimeOffset now)
    {
        if (existing is not null && existing.Currency != terms.Currency)
        {
            return new CustomerDecision.Refused("currency-change",
                $"Customer '{customerId}' is billed in {existing.Currency}; the currency of a customer cannot change.");
        }

        if (existing is not null && existing.BillingTimeZone != terms.BillingTimeZone)
        {
            return new CustomerDecision.Refused("time-zone-change",
                $"Customer '{customerId}' is billed in time zone {existing.BillingTimeZone}; it cannot change.");
        }

        if (existing is not null && existing.Name == terms.Name && existing.PlanId == terms.PlanId &&
            existing.CreditLimit.Amount == terms.CreditLimit.Amount && existing.LowBalanceThreshold.Amount == terms.LowBalanceThreshold.Amount)
        {
            return new CustomerDecision.Unchanged();
        }

        if (plan is null) return new CustomerDecision.Invalid("planId", $"No plan '{terms.PlanId}'.");
        if (plan.Currency != terms.Currency)
        {
            return new CustomerDecision.Invalid("planId", $"Plan '{terms.PlanId}' is priced in {plan.Currency}, not {terms.Currency}.");
        }

        if (existing is null)
        {
            return new CustomerDecision.Registered(new CustomerRegistered(customerId, terms.Name, terms.PlanId, terms.Currency,
                terms.CreditLimit, terms.LowBalanceThreshold, terms.BillingTimeZone, now));
        }

        return new CustomerDecision.Updated(new CustomerUpdated(customerId, terms.Name, terms.PlanId, terms.CreditLimit,
            terms.LowBalanceThreshold, now));
    }
}

public abstract record CustomerDecision
{
    public sealed record Registered(CustomerRegistered Event) : CustomerDecision;

    public sealed record Updated(CustomerUpdated Event) : CustomerDecision;

    public sealed record Unchanged : CustomerDecision;

    public sealed record Refused(string Slug, string Detail) : CustomerDecision;

    /// <summary>The terms name a plan that cannot be used (400 on that field).</summary>
    public sealed record Invalid(string Field, string Detail) : CustomerDecision;
}

/// <summary>Register a customer, or update its mutable terms (a message, whichever transport brings it).</summary>
public sealed record RegisterCustomer(string CustomerId, CustomerTerms Terms, EventActor Actor) : ILedgerCommand;

/// <summary>The customer's decision and the customer as it is after it.</summary>
public sealed record CustomerOutcome(CustomerDecision Decision, Account? Account);

public static class RegisterCustomerHandler
{
    public static async Task<CustomerOutcome> Handle(RegisterCustomer command, IDocumentSession session, TimeProvider clock,
        CancellationToken cancellation)
    {
        // Registrations of one customer queue on an advisory lock (the account may not exist yet);
        // then the account row, as every writer of the customer locks it.
        await session.BeginTransactionAsync(cancellation);
        var schema = session.DocumentStore.Options.DatabaseSchemaName;
        var key = StreamKeys.Customer(command.CustomerId);
        await Advisory.LockAsync(session.Connection!, key, cancellation);
        await Operations.ReadModelLock.WaitForRebuildAsync(session.Connection!, $"{schema}.mt_doc_customer", cancellation);
        var existing = await AccountTable.LockAsync(session, command.CustomerId, cancellation);
        var plan = await PlanHistory.LoadAsync(session, command.Terms.PlanId, cancellation);

        var decision = CustomerRules.Decide(existing, plan, command.CustomerId, command.Terms, clock.GetUtcNow());
        switch (decision)
        {
            case CustomerDecision.Registered registered:
                var opened = Account.Open(registered.Event);
                session.Events.StartStream(key, registered.Event);
                AccountTable.Save(session, schema, opened);
                return new CustomerOutcome(decision, opened);
            case CustomerDecision.Updated updated:
                var after = existing!.Apply(updated.Event);
                session.Events.Append(key, after.StreamVersion, updated.Event);
                AccountTable.Save(session, schema, after);
                return new CustomerOutcome(decision, after);
            default:
                return new CustomerOutcome(decision, existing);
        }
    }
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
    [ProducesProblem(503)]
    [Authorize(Policy = Scopes.BillingWrite)]
    [JsonRequestBody(typeof(RegisterCustomerRequest), "name", "planId", "currency")]
    [Tags("Customers")]
    public static async Task<IResult> Put(string customerId, HttpContext http, IMessageBus bus, Ledger.Metering.Ingestion.CustomerDirectory directory)
    {
        var errors = new FieldErrors();
        Check.ClientId(errors, "customerId", customerId);
        if (errors.Any) return errors.ToProblem();

        var body = await JsonBody.ReadAsync<RegisterCustomerRequest>(http.Request);
        if (body.Problem is not null) return body.Problem;

        var terms = CustomerRules.Validate(body.Value!, errors);
        if (terms is null) return errors.ToProblem();

        var outcome = await bus.InvokeAsync<CustomerOutcome>(new RegisterCustomer(customerId, terms, EventActor.From(http)), http.RequestAborted);
        // Committed: usage validation on this node sees the new terms at once (other nodes within the cache's lifetime).
        if (outcome.Decision is CustomerDecision.Updated) directory.Evict(customerId: customerId);
        return outcome.Decision switch
        {
            CustomerDecision.Registered => Results.Created($"/v1/customers/{customerId}", CustomerResponse.From(outcome.Account!)),
            CustomerDecision.Updated or CustomerDecision.Unchanged => Results.Ok(CustomerResponse.From(outcome.Account!)),
            CustomerDecision.Refused refused => Problems.Conflict(refused.Slug, refused.Detail),
            CustomerDecision.Invalid invalid => Problems.Validation(invalid.Field, invalid.Detail),
            _ => throw new InvalidOperationException("Unknown customer decision."),
        };
    }
}
