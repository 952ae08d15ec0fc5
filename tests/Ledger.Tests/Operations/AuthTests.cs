using System.Net;
using System.Net.Http.Headers;
using Ledger.Hosting;
using Ledger.Tests.Infrastructure;

namespace Ledger.Tests.Operations;

[Collection(LedgerCollection.Name)]
public class AuthTests(LedgerApp app)
{
    // Every endpoint so far with the scope it needs.
    public static TheoryData<string, string, string> Endpoints => new()
    {
        { "PUT", "/v1/plans/p1", Scopes.BillingWrite },
        { "GET", "/v1/plans/p1", Scopes.WalletsRead },
        { "PUT", "/v1/customers/c1", Scopes.BillingWrite },
        { "GET", "/v1/customers/c1", Scopes.WalletsRead },
        { "POST", "/v1/wallets/c1/top-ups", Scopes.WalletsWrite },
        { "POST", "/v1/wallets/c1/debits", Scopes.WalletsWrite },
        { "POST", "/v1/wallets/c1/adjustments", Scopes.BillingWrite },
        { "GET", "/v1/wallets/c1", Scopes.WalletsRead },
    };

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task Without_a_token_it_is_401_problem_details(string method, string url, string scope)
    {
        _ = scope;
        var (status, problem) = await app.Client(scopes: null).SendJson(new HttpMethod(method), url, method == "GET" ? null : "{}");

        status.ShouldBe(HttpStatusCode.Unauthorized);
        problem.Str("type").ShouldEndWith("unauthorized");
        problem!["status"]!.GetValue<int>().ShouldBe(401);
    }

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task Every_other_scope_is_403_and_the_right_scope_or_admin_gets_through(string method, string url, string scope)
    {
        foreach (var other in Scopes.All.Where(s => s != scope && s != Scopes.Admin))
        {
            var (status, problem) = await app.Client(other).SendJson(new HttpMethod(method), url, method == "GET" ? null : "{}");
            status.ShouldBe(HttpStatusCode.Forbidden, $"{other} on {method} {url}");
            problem.Str("type").ShouldEndWith("forbidden");
        }

        foreach (var granted in new[] { scope, Scopes.Admin, $"{Scopes.UsageWrite} {scope}" })
        {
            var (status, _) = await app.Client(granted).SendJson(new HttpMethod(method), url, method == "GET" ? null : "{}");
            status.ShouldNotBe(HttpStatusCode.Forbidden, granted);
            status.ShouldNotBe(HttpStatusCode.Unauthorized, granted);
        }
    }

    public static TheoryData<string> BadTokens => new()
    {
        "not-a-jwt",
        Authentication.MintToken("another-signing-key-0123456789abcdef-0123", "mallory", Scopes.Admin, TimeSpan.FromHours(1), DateTimeOffset.UtcNow),
        Authentication.MintToken(LedgerApp.SigningKey, "late", Scopes.Admin, TimeSpan.FromMinutes(1), DateTimeOffset.UtcNow.AddHours(-2)),
    };

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task Forged_expired_or_garbled_tokens_are_401(string token)
    {
        var client = app.Host.Server.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        var (status, _) = await client.GetJson("/v1/wallets/c1");

        status.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task The_token_subject_is_recorded_as_the_actor_with_correlation_and_causation_ids()
    {
        var client = app.Client(Scopes.Admin, subject: "ops-alice");
        var customer = await client.NewCustomerAsync();
        await client.TopUpAsync(customer, "10.00");

        await using var session = app.Store.QuerySession();
        var events = await session.Events.FetchStreamAsync(Ledger.Common.StreamKeys.Customer(customer));

        events.ShouldAllBe(e => e.UserName == "ops-alice");
        events.ShouldAllBe(e => !string.IsNullOrEmpty(e.CorrelationId) && !string.IsNullOrEmpty(e.CausationId));
        events[0].CorrelationId.ShouldNotBe(events[1].CorrelationId);
    }
}
