using Marten.Events.Aggregation;

namespace Ledger.Plans;

/// <summary>A version of a plan as it is kept in the plan document.</summary>
public sealed record PlanVersion(
    int Version,
    decimal TaxRate,
    IReadOnlyDictionary<string, MeterPrice> Meters,
    DateTimeOffset EffectiveFrom,
    DateTimeOffset PublishedAt);

/// <summary>A price plan with every version it has had, newest last.</summary>
public sealed record Plan(string Id, string PlanId, string Currency, IReadOnlyList<PlanVersion> Versions)
{
    /// <summary>
    /// The version of what the projection writes. Raise it when a change to the code changes the
    /// documents it gives: the next start rebuilds them blue/green (Operations/ProjectionVersions.cs).
    /// </summary>
    public const int ProjectionVersion = 1;

    public PlanVersion Current => Versions[^1];

    /// <summary>The version in force at <paramref name="instant"/>; the first one for earlier instants.</summary>
    public PlanVersion VersionAt(DateTimeOffset instant) =>
        Versions.LastOrDefault(v => v.EffectiveFrom <= instant) ?? Versions[0];

    public static Plan Create(PlanVersionPublished e) =>
        new(Ledger.Common.StreamKeys.Plan(e.PlanId), e.PlanId, e.Currency, [ToVersion(e)]);

    public Plan Apply(PlanVersionPublished e) => this with { Versions = [.. Versions, ToVersion(e)] };

    private static PlanVersion ToVersion(PlanVersionPublished e) =>
        new(e.Version, e.TaxRate, e.Meters, e.EffectiveFrom, e.PublishedAt);
}

public sealed class PlanProjection : SingleStreamProjection<Plan, string>
{
    public static Plan Create(PlanVersionPublished e) => Plan.Create(e);

    public static Plan Apply(PlanVersionPublished e, Plan plan) => plan.Apply(e);
}
