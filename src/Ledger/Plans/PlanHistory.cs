using Ledger.Common;
using Marten;

namespace Ledger.Plans;

/// <summary>
/// Plans as decisions need them — publishing a version, validating and rating usage, pricing a
/// period — folded from the plan streams' events, never read from the plan documents (a view
/// that may be rebuilt at any time).
/// </summary>
public static class PlanHistory
{
    public static Plan? Fold(IEnumerable<PlanVersionPublished> versions)
    {
        Plan? plan = null;
        foreach (var published in versions.OrderBy(v => v.Version)) plan = plan is null ? Plan.Create(published) : plan.Apply(published);
        return plan;
    }

    /// <summary>One plan, from its stream.</summary>
    public static async Task<Plan?> LoadAsync(IQuerySession session, string planId, CancellationToken cancellation)
    {
        var events = await session.Events.FetchStreamAsync(StreamKeys.Plan(planId), token: cancellation);
        return Fold(events.Select(e => e.Data).OfType<PlanVersionPublished>());
    }

    /// <summary>
    /// Several plans, each from its own stream: an indexed read by stream key. A query over the
    /// events' JSON by plan id scans the whole event table on every plan-cache miss: with it, the
    /// ingestion benchmark ran at 7,372 events/s and p99 2.0 s; with stream reads, 9,907 events/s and
    /// p99 583 ms (60 s runs, docs/benchmarks.md).
    /// </summary>
    public static async Task<Dictionary<string, Plan>> LoadManyAsync(IQuerySession session, IReadOnlyCollection<string> planIds,
        CancellationToken cancellation)
    {
        var plans = new Dictionary<string, Plan>(StringComparer.Ordinal);
        foreach (var planId in planIds.Distinct(StringComparer.Ordinal))
        {
            if (await LoadAsync(session, planId, cancellation) is { } plan) plans[planId] = plan;
        }

        return plans;
    }
}

/// <summary>What publishing a plan draft means for the plan as its events have it.</summary>
public abstract record PlanDecision
{
    public sealed record Published(PlanVersionPublished Event, Plan Plan, bool Created) : PlanDecision;

    public sealed record Unchanged(Plan Plan) : PlanDecision;

    public sealed record Refused(string Slug, string? Field, string Detail) : PlanDecision;
}

public static class PlanRules
{
    public static PlanDecision Decide(Plan? plan, string planId, PlanDraft draft, DateTimeOffset now)
    {
        if (plan is not null)
        {
            if (plan.Currency != draft.Currency)
            {
                return new PlanDecision.Refused("plan-currency-change", null,
                    $"Plan '{planId}' is priced in {plan.Currency}; a plan's currency cannot change. Publish a new plan instead.");
            }

            var current = plan.Current;
            if (PlanVersionPublished.Fingerprint(plan.Currency, current.TaxRate, current.Meters) ==
                PlanVersionPublished.Fingerprint(draft.Currency, draft.TaxRate, draft.Meters))
            {
                return new PlanDecision.Unchanged(plan);
            }

            if ((draft.EffectiveFrom ?? now) <= current.EffectiveFrom)
            {
                return new PlanDecision.Refused("validation", "effectiveFrom",
                    $"Must be after the current version's effectiveFrom ({Timestamps.Format(current.EffectiveFrom)}).");
            }
        }

        var published = new PlanVersionPublished(planId, (plan?.Versions.Count ?? 0) + 1, draft.Currency, draft.TaxRate,
            draft.Meters, draft.EffectiveFrom ?? now, now);
        return new PlanDecision.Published(published, plan?.Apply(published) ?? Plan.Create(published), plan is null);
    }
}
