using Ledger.Common;
using Ledger.Hosting;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Wolverine.Http;

namespace Ledger.Audit;

public static class VerifyEndpoint
{
    /// <summary>
    /// Checks every stream's hash chain and that every wallet and invoice document equals a fresh
    /// replay of the events (with <c>customerId</c>, that customer's only). 200 either way: <c>ok</c>
    /// says whether anything differs, <c>mismatches</c> says what, where, expected against found.
    /// </summary>
    [WolverinePost("/v1/audit/verify", OperationId = "VerifyAudit")]
    [ProducesResponseType<AuditVerification>(200)]
    [ProducesProblem(401)]
    [ProducesProblem(403)]
    [ProducesProblem(404)]
    [Authorize(Policy = Scopes.FinanceRead)]
    [Tags("Audit")]
    public static async Task<IResult> Post(string? customerId, AuditVerifier verifier, IDocumentStore store, NpgsqlDataSource dataSource,
        CancellationToken cancellation)
    {
        // A customer the ledger knows of: by its events, or by its write-side head should its events be gone.
        if (customerId is not null && (!ClientIds.IsValid(customerId) ||
                                       !await AuditTrail.CustomerExistsAsync(dataSource, store.Options.DatabaseSchemaName, customerId, cancellation, evenIfDeleted: true)))
            return Problems.NotFound($"No customer '{customerId}'.");
        return Results.Ok(await verifier.VerifyAsync(customerId, cancellation));
    }
}

/// <summary>
/// <c>verify [--customer &lt;id&gt;]</c> on the command line: the same check as the endpoint, run in
/// this process; prints every mismatch and exits 3 when there is one.
/// </summary>
public static class VerifyCommand
{
    public static async Task<int> RunAsync(IServiceProvider services, string[] args)
    {
        var store = services.GetRequiredService<IDocumentStore>();
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        string? customerId = null;
        if (args is ["--customer", var id, ..]) customerId = id;
        else if (args.Length > 0)
        {
            Console.Error.WriteLine("Usage: verify [--customer <id>]");
            return 2;
        }

        var result = await services.GetRequiredService<AuditVerifier>().VerifyAsync(customerId, CancellationToken.None);
        Console.WriteLine($"{result.StreamsChecked:N0} streams, {result.EventsChecked:N0} events checked: " +
                          (result.Ok ? "every chain intact, every wallet and invoice equal to a replay" : $"{result.Mismatches.Count} mismatch(es)"));
        foreach (var m in result.Mismatches)
        {
            Console.WriteLine($"  {m.Kind} {m.Subject}{(m.Version is { } v ? " v" + v : "")}: {m.Detail}");
            if (m.Expected is not null || m.Found is not null) Console.WriteLine($"    expected {m.Expected}\n    found    {m.Found}");
        }

        return result.Ok ? 0 : 3;
    }
}
