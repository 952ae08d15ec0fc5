using System.Globalization;
using Ledger.Common;
using Ledger.Hosting;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Ledger.Plans;

public sealed record PriceTierResponse(string? UpTo, string UnitPrice);

public sealed record MeterPriceResponse(
    string Model,
    string? UnitPrice,
    IReadOnlyList<PriceTierResponse>? Tiers,
    string? PackageSize,
    string? PackagePrice);

public sealed record PlanVersionSummary(int Version, string EffectiveFrom, string PublishedAt);

public sealed record PlanResponse(
    string Id,
    int Version,
    string Currency,
    string TaxRate,
    IReadOnlyDictionary<string, MeterPriceResponse> Meters,
    string EffectiveFrom,
    IReadOnlyList<PlanVersionSummary> Versions)
{
    public static PlanResponse From(Plan plan)
    {
        var current = plan.Current;
        return new PlanResponse(plan.PlanId, current.Version, plan.Currency, Text(current.TaxRate),
            current.Meters.ToDictionary(m => m.Key, m => From(m.Value), StringComparer.Ordinal),
            Timestamps.Format(current.EffectiveFrom),
            plan.Versions.Select(v => new PlanVersionSummary(v.Version, Timestamps.Format(v.EffectiveFrom), Timestamps.Format(v.PublishedAt))).ToList());
    }

    private static MeterPriceResponse From(MeterPrice price) => new(
        price.Model.ToString().ToLowerInvariant(),
        Text(price.UnitPrice),
        price.Tiers?.Select(t => new PriceTierResponse(Text(t.UpTo), Text(t.UnitPrice))).ToList(),
        Text(price.PackageSize),
        Text(price.PackagePrice));

    private static string Text(decimal value) => value.ToString(CultureInfo.InvariantCulture);

    private static string? Text(decimal? value) => value?.ToString(CultureInfo.InvariantCulture);
}

public static class GetPlanEndpoint
{
    [WolverineGet("/v1/plans/{planId}", OperationId = "GetPlan")]
    [ProducesResponseType<PlanResponse>(200)]
    [ProducesProblem(401)]
    [ProducesProblem(403)]
    [ProducesProblem(404)]
    [Authorize(Policy = Scopes.WalletsRead)]
    [Tags("Plans")]
    public static async Task<IResult> Get(string planId, IQuerySession session, CancellationToken cancellation)
    {
        if (!ClientIds.IsValid(planId)) return Problems.NotFound($"No plan '{planId}'.");
        var plan = await session.LoadAsync<Plan>(StreamKeys.Plan(planId), cancellation);
        return plan is null ? Problems.NotFound($"No plan '{planId}'.") : Results.Ok(PlanResponse.From(plan));
    }
}
