using Ledger.Plans;

namespace Ledger.Tests.Plans;

/// <summary>Publishing a plan as a pure function of the plan's events, one row per case.</summary>
public class PlanRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);

    private static readonly IReadOnlyDictionary<string, MeterPrice> Flat20 = new Dictionary<string, MeterPrice> { ["otp.sms"] = new(PricingModel.Flat, UnitPrice: 0.20m) };
    private static readonly IReadOnlyDictionary<string, MeterPrice> Flat2 = new Dictionary<string, MeterPrice> { ["otp.sms"] = new(PricingModel.Flat, UnitPrice: 0.2m) };
    private static readonly IReadOnlyDictionary<string, MeterPrice> Flat25 = new Dictionary<string, MeterPrice> { ["otp.sms"] = new(PricingModel.Flat, UnitPrice: 0.25m) };

    private static Plan Published(DateTimeOffset effectiveFrom) =>
        PlanHistory.Fold([new PlanVersionPublished("starter", 1, "INR", 0.18m, Flat20, effectiveFrom, effectiveFrom)])!;

    [Fact]
    public void A_first_draft_creates_version_one_effective_now_unless_it_says_otherwise()
    {
        var created = PlanRules.Decide(null, "starter", new PlanDraft("INR", 0.18m, Flat20, null), Now).ShouldBeOfType<PlanDecision.Published>();

        created.Created.ShouldBeTrue();
        created.Event.ShouldBe(new PlanVersionPublished("starter", 1, "INR", 0.18m, Flat20, Now, Now));
        created.Plan.Current.Version.ShouldBe(1);
    }

    public static TheoryData<string, string, decimal, int, int?, string> Cases => new()
    {
        // case, currency, tax rate, price (0.20 / 0.2 / 0.25 as 20, 2, 25), effectiveFrom in days from now, expected
        { "the same content", "INR", 0.18m, 20, null, "Unchanged" },
        { "the same prices written differently", "INR", 0.180m, 2, null, "Unchanged" },
        { "a new price, effective now", "INR", 0.18m, 25, null, "Published v2" },
        { "a new tax rate, effective later", "INR", 0.12m, 20, 3, "Published v2" },
        { "a new price effective before the current version", "INR", 0.18m, 25, -10, "Refused validation effectiveFrom" },
        { "another currency", "USD", 0.18m, 20, null, "Refused plan-currency-change" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_later_draft_is_decided_against_the_current_version(string name, string currency, decimal taxRate, int price, int? effectiveInDays,
        string expected)
    {
        var meters = price switch { 20 => Flat20, 2 => Flat2, _ => Flat25 };
        var draft = new PlanDraft(currency, taxRate, meters, effectiveInDays is { } d ? Now.AddDays(d) : null);

        var decision = PlanRules.Decide(Published(Now.AddDays(-5)), "starter", draft, Now);

        var described = decision switch
        {
            PlanDecision.Published p => $"Published v{p.Event.Version}",
            PlanDecision.Refused r => $"Refused {r.Slug}{(r.Field is null ? "" : " " + r.Field)}",
            _ => decision.GetType().Name,
        };
        described.ShouldBe(expected, name);
    }
}
