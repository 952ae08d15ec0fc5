using Ledger.Accounts;
using Ledger.Common;
using Ledger.Customers;
using Ledger.Plans;

namespace Ledger.Tests.Customers;

/// <summary>The customer decision as a pure function of the account (write side) and the plan's events, one row per case.</summary>
public class CustomerRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);

    private static Plan PlanIn(string currency, string id = "starter") =>
        Plan.Create(new PlanVersionPublished(id, 1, currency, 0.18m, new Dictionary<string, MeterPrice>(), Now.AddDays(-1), Now.AddDays(-1)));

    private static CustomerTerms Terms(string name = "Acme", string plan = "starter", string currency = "INR", decimal creditLimit = 0m,
        decimal threshold = 100m, string zone = "Asia/Kolkata") =>
        new(name, plan, currency, new Money(creditLimit, currency), new Money(threshold, currency), zone);

    private static Account Existing() =>
        Account.Open(new CustomerRegistered("acme", "Acme", "starter", "INR", new Money(0m, "INR"), new Money(100m, "INR"), "Asia/Kolkata", Now.AddDays(-3)));

    public static TheoryData<string, bool, string, string, string> Cases => new()
    {
        // case, exists, terms (name|plan|currency|zone|creditLimit), plan currency ("" = no plan), expected decision
        { "new customer on a plan in its currency", false, "Acme|starter|INR|Asia/Kolkata|0", "INR", "Registered" },
        { "new customer on an unknown plan", false, "Acme|nope|INR|Asia/Kolkata|0", "", "Invalid:planId" },
        { "new customer on a plan in another currency", false, "Acme|starter|INR|Asia/Kolkata|0", "USD", "Invalid:planId" },
        { "the same terms again", true, "Acme|starter|INR|Asia/Kolkata|0", "INR", "Unchanged" },
        { "the same terms, the plan gone from the events", true, "Acme|starter|INR|Asia/Kolkata|0", "", "Unchanged" },
        { "a new name", true, "Acme Ltd|starter|INR|Asia/Kolkata|0", "INR", "Updated" },
        { "a new credit limit", true, "Acme|starter|INR|Asia/Kolkata|50", "INR", "Updated" },
        { "another plan in the same currency", true, "Acme|pro|INR|Asia/Kolkata|0", "INR", "Updated" },
        { "another plan in another currency", true, "Acme|pro|INR|Asia/Kolkata|0", "USD", "Invalid:planId" },
        { "another currency", true, "Acme|starter|USD|Asia/Kolkata|0", "USD", "Refused:currency-change" },
        { "another time zone", true, "Acme|starter|INR|UTC|0", "INR", "Refused:time-zone-change" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Registering_decides_from_the_account_and_the_plan(string name, bool exists, string terms, string planCurrency, string expected)
    {
        var t = terms.Split('|');
        var command = Terms(t[0], t[1], t[2], decimal.Parse(t[4], System.Globalization.CultureInfo.InvariantCulture), zone: t[3]);
        var plan = planCurrency == "" ? null : PlanIn(planCurrency, t[1]);

        var decision = CustomerRules.Decide(exists ? Existing() : null, plan, "acme", command, Now);

        var described = decision switch
        {
            CustomerDecision.Refused r => "Refused:" + r.Slug,
            CustomerDecision.Invalid i => "Invalid:" + i.Field,
            _ => decision.GetType().Name,
        };
        described.ShouldBe(expected, name);
    }

    [Fact]
    public void A_registration_carries_the_terms_and_the_time_it_was_decided()
    {
        var registered = CustomerRules.Decide(null, PlanIn("INR"), "acme", Terms(creditLimit: 25m), Now)
            .ShouldBeOfType<CustomerDecision.Registered>().Event;

        registered.ShouldBe(new CustomerRegistered("acme", "Acme", "starter", "INR", new Money(25m, "INR"), new Money(100m, "INR"), "Asia/Kolkata", Now));
        var opened = Account.Open(registered);
        (opened.Balance.Amount, opened.WalletVersion, opened.StreamVersion).ShouldBe((0m, 1L, 1L));
    }
}
