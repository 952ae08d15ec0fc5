using Ledger.Common;
using Ledger.Hosting;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Wolverine;
using Wolverine.Http;

namespace Ledger.Plans;

public sealed record PublishPlanRequest(
    string? Currency,
    DecimalText TaxRate,
    Dictionary<string, MeterPriceRequest?>? Meters,
    string? EffectiveFrom);

public sealed record MeterPriceRequest(
    string? Model,
    DecimalText UnitPrice,
    List<PriceTierRequest?>? Tiers,
    DecimalText PackageSize,
    DecimalText PackagePrice);

public sealed record PriceTierRequest(DecimalText UpTo, DecimalText UnitPrice);

/// <summary>A plan as validated from a request, before it becomes an event.</summary>
public sealed record PlanDraft(string Currency, decimal TaxRate, IReadOnlyDictionary<string, MeterPrice> Meters, DateTimeOffset? EffectiveFrom);

public static class PlanValidation
{
    public const int PriceScale = 6;
    public const int MaxMeters = 100;
    public const int MaxTiers = 50;

    public static PlanDraft? Validate(PublishPlanRequest request, FieldErrors errors)
    {
        if (!Currencies.IsValidCode(request.Currency)) errors.Add("currency", "Must be an ISO 4217 code such as \"INR\".");

        var taxRate = Check.Decimal(errors, "taxRate", request.TaxRate, PriceScale, required: false, min: 0m) ?? 0m;
        if (taxRate > 1m) errors.Add("taxRate", "Must be at most 1 (a fraction, 0.18 for 18%).");

        DateTimeOffset? effectiveFrom = null;
        if (request.EffectiveFrom is not null)
        {
            if (Timestamps.TryParse(request.EffectiveFrom, out var parsed)) effectiveFrom = parsed;
            else errors.Add("effectiveFrom", "Must be an RFC 3339 timestamp with offset.");
        }

        var meters = new Dictionary<string, MeterPrice>(StringComparer.Ordinal);
        if (request.Meters is null || request.Meters.Count == 0)
        {
            errors.Add("meters", "At least one meter is required.");
        }
        else if (request.Meters.Count > MaxMeters)
        {
            errors.Add("meters", $"At most {MaxMeters} meters.");
        }
        else
        {
            foreach (var (name, meter) in request.Meters)
            {
                var path = $"meters.{name}";
                if (!ClientIds.IsValid(name)) errors.Add(path, "Meter names: " + ClientIds.Rule);
                if (meter is null)
                {
                    errors.Add(path, "Is required.");
                    continue;
                }

                if (ValidateMeter(meter, path, errors) is { } price) meters[name] = price;
            }
        }

        return errors.Any ? null : new PlanDraft(request.Currency!, taxRate, meters, effectiveFrom);
    }

    private static MeterPrice? ValidateMeter(MeterPriceRequest meter, string path, FieldErrors errors)
    {
        switch (meter.Model)
        {
            case "flat":
                var unitPrice = Check.Decimal(errors, $"{path}.unitPrice", meter.UnitPrice, PriceScale, min: 0m);
                return unitPrice is null ? null : new MeterPrice(PricingModel.Flat, UnitPrice: unitPrice);
            case "graduated":
            case "volume":
                var tiers = ValidateTiers(meter.Tiers, $"{path}.tiers", errors);
                return tiers is null
                    ? null
                    : new MeterPrice(meter.Model == "graduated" ? PricingModel.Graduated : PricingModel.Volume, Tiers: tiers);
            case "package":
                var size = Check.Decimal(errors, $"{path}.packageSize", meter.PackageSize, PriceScale, positive: true);
                var price = Check.Decimal(errors, $"{path}.packagePrice", meter.PackagePrice, PriceScale, min: 0m);
                return size is null || price is null
                    ? null
                    : new MeterPrice(PricingModel.Package, PackageSize: size, PackagePrice: price);
            default:
                errors.Add($"{path}.model", "Must be one of flat, graduated, volume, package.");
                return null;
        }
    }

    private static List<PriceTier>? ValidateTiers(List<PriceTierRequest?>? tiers, string path, FieldErrors errors)
    {
        if (tiers is null || tiers.Count == 0)
        {
            errors.Add(path, "At least one tier is required; the last one has upTo null.");
            return null;
        }

        if (tiers.Count > MaxTiers)
        {
            errors.Add(path, $"At most {MaxTiers} tiers.");
            return null;
        }

        var result = new List<PriceTier>(tiers.Count);
        var valid = true;
        decimal? previousUpTo = null;
        for (var i = 0; i < tiers.Count; i++)
        {
            var tierPath = $"{path}[{i}]";
            var tier = tiers[i];
            if (tier is null)
            {
                errors.Add(tierPath, "Is required.");
                valid = false;
                continue;
            }

            var isLast = i == tiers.Count - 1;
            var unitPrice = Check.Decimal(errors, $"{tierPath}.unitPrice", tier.UnitPrice, PriceScale, min: 0m);
            decimal? upTo = null;
            if (isLast)
            {
                if (!tier.UpTo.IsMissing)
                {
                    errors.Add($"{tierPath}.upTo", "The last tier must have upTo null.");
                    valid = false;
                }
            }
            else
            {
                upTo = Check.Decimal(errors, $"{tierPath}.upTo", tier.UpTo, PriceScale, positive: true);
                if (upTo is null) valid = false;
                else if (previousUpTo is { } previous && upTo <= previous)
                {
                    errors.Add($"{tierPath}.upTo", "Tiers must be in ascending order of upTo.");
                    valid = false;
                }

                previousUpTo = upTo ?? previousUpTo;
            }

            if (unitPrice is null) valid = false;
            else result.Add(new PriceTier(upTo, unitPrice.Value));
        }

        return valid ? result : null;
    }
}

/// <summary>Publish a plan draft as the plan's next version (a message, whichever transport brings it).</summary>
public sealed record PublishPlan(string PlanId, PlanDraft Draft, EventActor Actor) : ILedgerCommand;

public static class PublishPlanHandler
{
    public static async Task<PlanDecision> Handle(PublishPlan command, IDocumentSession session, TimeProvider clock, CancellationToken cancellation)
    {
        // Publications of one plan queue on an advisory lock, which also covers a plan that does not exist yet.
        await session.BeginTransactionAsync(cancellation);
        var key = StreamKeys.Plan(command.PlanId);
        await Advisory.LockAsync(session.Connection!, key, cancellation);
        await Operations.ReadModelLock.WaitForRebuildAsync(session.Connection!, $"{session.DocumentStore.Options.DatabaseSchemaName}.mt_doc_plan", cancellation);
        var plan = await PlanHistory.LoadAsync(session, command.PlanId, cancellation);

        var decision = PlanRules.Decide(plan, command.PlanId, command.Draft, clock.GetUtcNow());
        if (decision is PlanDecision.Published published)
        {
            if (published.Created) session.Events.StartStream(key, published.Event);
            else session.Events.Append(key, published.Event.Version, published.Event);
        }

        return decision;
    }
}

public static class PublishPlanEndpoint
{
    [WolverinePut("/v1/plans/{planId}", OperationId = "PublishPlan")]
    [ProducesResponseType<PlanResponse>(200)]
    [ProducesResponseType<PlanResponse>(201)]
    [ProducesProblem(401)]
    [ProducesProblem(403)]
    [ProducesProblem(400)]
    [ProducesProblem(409)]
    [ProducesProblem(503)]
    [Authorize(Policy = Scopes.BillingWrite)]
    [JsonRequestBody(typeof(PublishPlanRequest), "currency", "meters")]
    [Tags("Plans")]
    public static async Task<IResult> Put(string planId, HttpContext http, IMessageBus bus, Ledger.Metering.Ingestion.CustomerDirectory directory)
    {
        var errors = new FieldErrors();
        Check.ClientId(errors, "planId", planId);
        if (errors.Any) return errors.ToProblem();

        var body = await JsonBody.ReadAsync<PublishPlanRequest>(http.Request);
        if (body.Problem is not null) return body.Problem;

        var draft = PlanValidation.Validate(body.Value!, errors);
        if (draft is null) return errors.ToProblem();

        var decision = await bus.InvokeAsync<PlanDecision>(new PublishPlan(planId, draft, EventActor.From(http)), http.RequestAborted);
        // Committed: usage validation on this node sees the new version at once (other nodes within the cache's lifetime).
        if (decision is PlanDecision.Published) directory.Evict(planId: planId);
        return decision switch
        {
            PlanDecision.Published { Created: true } created => Results.Created($"/v1/plans/{planId}", PlanResponse.From(created.Plan)),
            PlanDecision.Published updated => Results.Ok(PlanResponse.From(updated.Plan)),
            PlanDecision.Unchanged unchanged => Results.Ok(PlanResponse.From(unchanged.Plan)),
            PlanDecision.Refused { Field: { } field } refused => Problems.Validation(field, refused.Detail),
            PlanDecision.Refused refused => Problems.Conflict(refused.Slug, refused.Detail),
            _ => throw new InvalidOperationException("Unknown plan decision."),
        };
    }
}
