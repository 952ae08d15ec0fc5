using System.Net;
using Ledger.Common;
using Ledger.Customers;
using Ledger.Tests.Infrastructure;
using Ledger.Wallets;

namespace Ledger.Tests.Wallets;

[Collection(LedgerCollection.Name)]
public class BalanceAsOfTests(LedgerApp app)
{
    [Fact]
    public async Task AsOf_answers_equal_a_fold_of_the_events_recorded_up_to_that_instant()
    {
        var client = app.Client();
        var customer = await client.NewCustomerAsync(creditLimit: "10.00");
        await client.TopUpAsync(customer, "100.00");
        (await client.PostJson($"/v1/wallets/{customer}/debits", """{ "id": "d1", "amount": "30.50", "reason": "x" }""")).Status.ShouldBe(HttpStatusCode.Created);
        (await client.PostJson($"/v1/wallets/{customer}/adjustments", """{ "id": "a1", "amount": "-75.00", "reason": "y" }""")).Status.ShouldBe(HttpStatusCode.Created);
        await client.TopUpAsync(customer, "0.25");

        await using var session = app.Store.QuerySession();
        var events = await session.Events.FetchStreamAsync(StreamKeys.Customer(customer));
        events.Count.ShouldBe(5);

        for (var i = 0; i < events.Count; i++)
        {
            var instant = events[i].Timestamp;
            var expected = events.Where(e => e.Timestamp <= instant).Aggregate((Wallet?)null, (w, e) => e.Data switch
            {
                CustomerRegistered r => Wallet.Open(r),
                _ => w!.Apply(e.Data),
            })!;

            var answer = await client.WalletAsync(customer, Timestamps.Format(instant));

            answer.Str("balance").ShouldBe(expected.Balance.ToLedgerString(), $"as of event {i + 1}");
            answer.Str("status").ShouldBe(expected.Status.ToString().ToLowerInvariant());
            answer!["version"]!.GetValue<long>().ShouldBe(events[i].Version);
            answer.Str("asOf").ShouldBe(Timestamps.Format(instant));
        }
    }

    [Fact]
    public async Task AsOf_before_the_wallet_existed_is_404_and_a_bad_timestamp_is_400()
    {
        var client = app.Client();
        var customer = await client.NewCustomerAsync();

        var (before, _) = await client.GetJson($"/v1/wallets/{customer}?asOf=2000-01-01T00:00:00Z");
        var (bad, problem) = await client.GetJson($"/v1/wallets/{customer}?asOf=yesterday");
        var (noOffset, _) = await client.GetJson($"/v1/wallets/{customer}?asOf=2026-11-25T10:00:00");

        before.ShouldBe(HttpStatusCode.NotFound);
        bad.ShouldBe(HttpStatusCode.BadRequest);
        problem!["errors"]!["asOf"].ShouldNotBeNull();
        noOffset.ShouldBe(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task AsOf_accepts_any_offset_and_answers_for_the_same_instant()
    {
        var client = app.Client();
        var customer = await client.NewCustomerAsync();
        await client.TopUpAsync(customer, "10.00");
        var later = DateTimeOffset.UtcNow.AddMinutes(5);

        var utc = await client.WalletAsync(customer, Timestamps.Format(later));
        var ist = await client.WalletAsync(customer, later.ToOffset(TimeSpan.FromHours(5.5)).ToString("yyyy-MM-dd'T'HH:mm:ss.fffffffzzz", System.Globalization.CultureInfo.InvariantCulture));

        ist.Str("balance").ShouldBe("10.000000");
        ist.Str("balance").ShouldBe(utc.Str("balance"));
        ist.Str("asOf").ShouldBe(utc.Str("asOf"));
    }
}
