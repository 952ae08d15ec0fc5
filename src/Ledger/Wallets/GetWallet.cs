using Ledger.Common;
using Ledger.Hosting;
using Marten;
using Npgsql;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Ledger.Wallets;

public sealed record WalletResponse(
    string CustomerId,
    string Currency,
    string Balance,
    string CreditLimit,
    string Available,
    string Status,
    long Version,
    string AsOf)
{
    public static WalletResponse From(Wallet w, DateTimeOffset asOf) => new(w.CustomerId, w.Currency,
        w.Balance.ToLedgerString(), w.CreditLimit.ToMinorUnitString(), w.Available.ToLedgerString(),
        w.Status.ToString().ToLowerInvariant(), w.Version, Timestamps.Format(asOf));
}

public static class GetWalletEndpoint
{
    /// <summary>
    /// The wallet now, from the wallets table; with <c>asOf</c>, the wallet as the ledger stood at
    /// that instant (events recorded up to it), folded from the events.
    /// </summary>
    [WolverineGet("/v1/wallets/{customerId}", OperationId = "GetWallet")]
    [ProducesResponseType<WalletResponse>(200)]
    [ProducesProblem(401)]
    [ProducesProblem(403)]
    [ProducesProblem(400)]
    [ProducesProblem(404)]
    [Authorize(Policy = Scopes.WalletsRead)]
    [Tags("Wallets")]
    public static async Task<IResult> Get(string customerId, string? asOf, IQuerySession session, NpgsqlDataSource dataSource,
        TimeProvider clock, CancellationToken cancellation)
    {
        if (!ClientIds.IsValid(customerId)) return Problems.NotFound($"No wallet '{customerId}'.");

        DateTimeOffset instant = default;
        if (asOf is not null && !Timestamps.TryParse(asOf, out instant))
        {
            return Problems.Validation("asOf", "Must be an RFC 3339 timestamp with offset.");
        }

        var schema = session.DocumentStore.Options.DatabaseSchemaName;
        var current = await WalletTable.ReadAsync(dataSource, schema, customerId, cancellation);
        if (current is null) return Problems.NotFound($"No wallet '{customerId}'.");
        if (asOf is null) return Results.Ok(WalletResponse.From(current, clock.GetUtcNow()));

        var history = await WalletHistory.LoadAsync(session, dataSource, customerId, instant, cancellation);
        var past = Wallet.Fold(history.Select(e => e.Data));
        return past is null
            ? Problems.NotFound($"Wallet '{customerId}' did not exist at {Timestamps.Format(instant)}.")
            : Results.Ok(WalletResponse.From(past, instant));
    }
}
