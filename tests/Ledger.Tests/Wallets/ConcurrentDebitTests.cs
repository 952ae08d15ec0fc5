using System.Net;
using Ledger.Common;
using Ledger.Tests.Infrastructure;
using Ledger.Wallets;

namespace Ledger.Tests.Wallets;

[Collection(LedgerCollection.Name)]
public class ConcurrentDebitTests(LedgerApp app)
{
    [Fact]
    public async Task Fifty_concurrent_debits_are_each_applied_once_or_refused_and_never_pass_the_credit_limit()
    {
        var client = app.Client();
        var customer = await client.NewCustomerAsync(creditLimit: "20.00");
        await client.TopUpAsync(customer, "100.00");

        // 50 debits of 3.00 against 120.00 available: exactly 40 fit.
        var attempts = Enumerable.Range(0, 50).Select(async i =>
        {
            var (status, _) = await client.PostJson($"/v1/wallets/{customer}/debits",
                $$"""{ "id": "db-{{i}}", "amount": "3.00", "reason": "concurrent {{i}}" }""");
            return status;
        });
        var statuses = await Task.WhenAll(attempts);

        statuses.ShouldAllBe(s => s == HttpStatusCode.Created || s == HttpStatusCode.UnprocessableEntity);
        statuses.Count(s => s == HttpStatusCode.Created).ShouldBe(40);

        await using var session = app.Store.QuerySession();
        var events = await session.Events.FetchStreamAsync(StreamKeys.Customer(customer));
        var debits = events.Select(e => e.Data).OfType<WalletDebited>().ToList();
        debits.Count.ShouldBe(40);
        debits.Select(d => d.DebitId).Distinct().Count().ShouldBe(40);

        var fold = events.Aggregate((Wallet?)null, (w, e) => e.Data switch
        {
            Ledger.Customers.CustomerRegistered r => Wallet.Open(r),
            _ => w!.Apply(e.Data),
        })!;
        fold.Balance.ToLedgerString().ShouldBe("-20.000000");
        var projected = await client.WalletAsync(customer);
        projected.Str("balance").ShouldBe(fold.Balance.ToLedgerString());
        projected!["version"]!.GetValue<long>().ShouldBe(events.Count);
    }

    [Fact]
    public async Task A_hundred_concurrent_debits_of_one_against_fifty_are_exactly_fifty_accepted_and_fifty_refused()
    {
        var client = app.Client();
        var customer = await client.NewCustomerAsync();
        await client.TopUpAsync(customer, "50.00");

        var statuses = await Task.WhenAll(Enumerable.Range(0, 100).Select(async i =>
            (await client.PostJson($"/v1/wallets/{customer}/debits", $$"""{ "id": "db-{{i}}", "amount": "1.00", "reason": "race {{i}}" }""")).Status));

        statuses.Count(s => s == HttpStatusCode.Created).ShouldBe(50);
        statuses.Count(s => s == HttpStatusCode.UnprocessableEntity).ShouldBe(50);
        var wallet = await client.WalletAsync(customer);
        wallet.Str("balance").ShouldBe("0.000000");
        wallet!["version"]!.GetValue<long>().ShouldBe(52); // registered, topped up, 50 debits
    }

    [Fact]
    public async Task The_same_top_up_sent_concurrently_is_applied_once()
    {
        var client = app.Client();
        var customer = await client.NewCustomerAsync();

        var statuses = await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
            (await client.PostJson($"/v1/wallets/{customer}/top-ups", """{ "id": "tu-same", "amount": "10.00" }""")).Status));

        statuses.Count(s => s == HttpStatusCode.Created).ShouldBe(1);
        statuses.Count(s => s == HttpStatusCode.OK).ShouldBe(9);
        (await client.WalletAsync(customer)).Str("balance").ShouldBe("10.000000");
    }
}
