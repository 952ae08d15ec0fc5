using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Alba;
using Ledger.Hosting;
using Ledger.Tests.Infrastructure;

namespace Ledger.Tests.Operations;

/// <summary>
/// With rate limits configured (they are off by default), each token subject gets its own bucket:
/// beyond it, 429 problem details with Retry-After; another subject and the anonymous endpoints are
/// not affected; the bucket refills.
/// </summary>
[Collection(Name)]
public sealed class RateLimitTests : IAsyncLifetime
{
    public const string Name = "rate-limits";

    private IAlbaHost _host = null!;

    public async ValueTask InitializeAsync() =>
        _host = await LedgerApp.StartHostAsync(LedgerApp.ConnectionString, "rl_" + Guid.NewGuid().ToString("N")[..8], "api",
            new Dictionary<string, string> { ["Ledger:RateLimits:PermitsPerSecond"] = "2", ["Ledger:RateLimits:Burst"] = "3" });

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    private HttpClient Client(string subject)
    {
        var client = _host.Server.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", LedgerApp.Token(Scopes.Admin, subject));
        return client;
    }

    [Fact]
    public async Task A_subject_over_its_limit_gets_429_with_Retry_After_and_others_are_not_affected()
    {
        var alice = Client("alice");
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 6; i++)
        {
            var response = await alice.GetAsync("/v1/plans/none");
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests) refused ??= response;
        }

        statuses.Take(3).ShouldAllBe(s => s == HttpStatusCode.NotFound);   // the burst
        statuses.Count(s => s == HttpStatusCode.TooManyRequests).ShouldBeGreaterThanOrEqualTo(2);
        refused.ShouldNotBeNull();
        refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds.ShouldBeGreaterThanOrEqualTo(1);
        refused.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        JsonNode.Parse(await refused.Content.ReadAsStringAsync()).Str("type").ShouldBe("urn:ledger:problem:rate-limited");

        (await Client("bob").GetAsync("/v1/plans/none")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await _host.Server.CreateClient().GetAsync("/health/live")).StatusCode.ShouldBe(HttpStatusCode.OK);

        await Task.Delay(TimeSpan.FromSeconds(1.5));
        (await alice.GetAsync("/v1/plans/none")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }
}
