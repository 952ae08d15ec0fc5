using System.Net.Http.Headers;
using Alba;
using JasperFx.CommandLine;
using Ledger.Hosting;
using Marten;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Ledger.Tests.Infrastructure;

/// <summary>
/// One real host per test collection: real HTTP pipeline (Alba), real PostgreSQL (the one
/// scripts/test.sh starts, in LEDGER_TEST_CONNECTION), in a schema of its own so collections
/// can run in parallel. Tests use fresh ids instead of resetting data.
/// </summary>
public sealed class LedgerApp : IAsyncLifetime
{
    public const string SigningKey = "test-signing-key-0123456789abcdef-0123456789abcdef";

    public IAlbaHost Host { get; private set; } = null!;

    public string Schema { get; } = "t_" + Guid.NewGuid().ToString("N")[..12];

    public static string ConnectionString =>
        Environment.GetEnvironmentVariable("LEDGER_TEST_CONNECTION")
        ?? throw new InvalidOperationException("Run the tests with ./scripts/test.sh (it starts PostgreSQL and sets LEDGER_TEST_CONNECTION).");

    public IDocumentStore Store => Host.Services.GetRequiredService<IDocumentStore>();

    public async ValueTask InitializeAsync()
    {
        Host = await StartHostAsync(ConnectionString, Schema);
    }

    /// <summary>A host of the ledger on the given database and schema, as every test fixture starts it.</summary>
    public static Task<IAlbaHost> StartHostAsync(string connectionString, string schema, string roles = "api,projections",
        IReadOnlyDictionary<string, string>? settings = null)
    {
        JasperFxEnvironment.AutoStartHost = true;
        return AlbaHost.For<Program>(web =>
        {
            web.UseSetting("ConnectionStrings:Ledger", connectionString);
            web.UseSetting("Ledger:Schema", schema);
            // A name of its own per host (its connections carry it), so a test can tell which host holds a lock.
            web.UseSetting("Ledger:NodeName", "test-" + Guid.NewGuid().ToString("N")[..12]);
            web.UseSetting("Ledger:Auth:SigningKey", SigningKey);
            web.UseSetting("Ledger:Durability", "Solo");
            web.UseSetting("Ledger:Roles", roles);
            // As in production: one daemon per schema elected through its advisory locks (the admin API names the node holding them).
            web.UseSetting("Ledger:Daemon", "HotCold");
            foreach (var (key, value) in settings ?? new Dictionary<string, string>()) web.UseSetting(key, value);
        });
    }

    /// <summary>The repository's root, found from the test binaries (for its scripts).</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Ledger.sln"))) return dir.FullName;
        }

        throw new InvalidOperationException("Ledger.sln not found above the test binaries.");
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
    }

    public static string Token(string scopes, string subject = "test-user", TimeSpan? lifetime = null) =>
        Authentication.MintToken(SigningKey, subject, scopes, lifetime ?? TimeSpan.FromHours(1), DateTimeOffset.UtcNow);

    /// <summary>A plain HttpClient on the test server, for raw bodies and headers.</summary>
    public HttpClient Client(string? scopes = Scopes.Admin, string subject = "test-user")
    {
        var client = Host.Server.CreateClient();
        if (scopes is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token(scopes, subject));
        return client;
    }

    public static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}";
}

[CollectionDefinition(Name)]
public sealed class LedgerCollection : ICollectionFixture<LedgerApp>
{
    public const string Name = "ledger";
}
