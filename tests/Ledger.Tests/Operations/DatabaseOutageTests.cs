using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Alba;
using Ledger.Hosting;
using Ledger.Tests.Infrastructure;
using Ledger.Tests.Metering;

namespace Ledger.Tests.Operations;

/// <summary>
/// PostgreSQL stopped under the running service, then started again: every request in between is
/// answered 503 with Retry-After (never a bare 500), nothing is half-stored, and the service serves
/// again on its own once the database is back. The test runs its own PostgreSQL (the scripts'
/// recipe), so stopping it disturbs no other test.
/// </summary>
[Collection(Name)]
public sealed class DatabaseOutageTests : IAsyncLifetime
{
    public const string Name = "database-outage";

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ledger-outage-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly int _port = ServiceProcess.FreePort();
    private IAlbaHost _host = null!;

    public async ValueTask InitializeAsync()
    {
        await PostgresAsync($"start_postgres '{_dir}' {_port} -c fsync=off -c synchronous_commit=off");
        _host = await LedgerApp.StartHostAsync($"Host=127.0.0.1;Port={_port};Database=ledger;Username=postgres;Timeout=3;Command Timeout=5", "outage");
    }

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        await PostgresAsync($"stop_postgres '{_dir}'");
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Requests_during_an_outage_get_503_with_Retry_After_and_the_service_recovers_alone()
    {
        var client = _host.Server.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", LedgerApp.Token(Scopes.Admin));
        var customer = await client.NewCustomerAsync();
        await client.TopUpAsync(customer, "100.00", id: "tu-before");
        var now = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm:ssZ");
        var usage = UsageApi.Batch(UsageApi.Event("evt-1", customer, "otp.whatsapp", "2", now));

        await PostgresAsync($"stop_postgres '{_dir}'");

        var during = new List<(string What, HttpResponseMessage Response)>
        {
            ("top-up", await client.PostAsync($"/v1/wallets/{customer}/top-ups", Api.Json("""{ "id": "tu-during", "amount": "50.00" }"""))),
            ("usage", await client.PostAsync("/v1/usage", Api.Json(usage))),
            ("wallet", await client.GetAsync($"/v1/wallets/{customer}")),
            ("customer", await client.PutAsync($"/v1/customers/{LedgerApp.NewId("c")}", Api.Json("""{ "name": "A", "planId": "p", "currency": "INR" }"""))),
        };
        foreach (var (what, response) in during)
        {
            var text = await response.Content.ReadAsStringAsync();
            response.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable, $"{what}: {text}");
            response.Headers.RetryAfter?.Delta.ShouldBe(TimeSpan.FromSeconds(DatabaseOutage.RetryAfterSeconds), what);
            response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json", what);
            JsonNode.Parse(text).Str("type").ShouldBe("urn:ledger:problem:unavailable", what);
            text.ShouldNotContain("Npgsql", Case.Sensitive, what);
        }

        (await client.GetAsync("/health/ready")).StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);

        await PostgresAsync($"start_postgres '{_dir}' {_port} -c fsync=off -c synchronous_commit=off");

        // The same commands again, as a client honouring Retry-After would send them.
        var topUp = await UntilNot503(() => client.PostAsync($"/v1/wallets/{customer}/top-ups", Api.Json("""{ "id": "tu-during", "amount": "50.00" }""")));
        topUp.StatusCode.ShouldBe(HttpStatusCode.Created, await topUp.Content.ReadAsStringAsync());
        var recorded = await UntilNot503(() => client.PostAsync("/v1/usage", Api.Json(usage)));
        recorded.StatusCode.ShouldBe(HttpStatusCode.OK);
        JsonNode.Parse(await recorded.Content.ReadAsStringAsync())!["accepted"]!.GetValue<int>().ShouldBe(1);

        var wallet = await client.WalletAsync(customer);
        wallet.Str("balance").ShouldBe("149.770000"); // 100 + 50 − 2 × 0.115
        wallet.Version().ShouldBe(4);
    }

    private static async Task<HttpResponseMessage> UntilNot503(Func<Task<HttpResponseMessage>> send)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var response = await send();
            if (response.StatusCode != HttpStatusCode.ServiceUnavailable || deadline.Elapsed > TimeSpan.FromSeconds(20)) return response;
            await Task.Delay(250);
        }
    }

    private static async Task PostgresAsync(string call)
    {
        var script = Path.Combine(LedgerApp.RepositoryRoot(), "scripts", "lib", "postgres.sh");
        using var process = Process.Start(new ProcessStartInfo("bash", ["-c", $"source '{script}' && {call}"])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        process.ExitCode.ShouldBe(0, $"{call}: {error}");
    }
}
