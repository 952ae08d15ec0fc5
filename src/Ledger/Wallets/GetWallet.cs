using Ledger.Common;
using Ledger.Hosting;
using Marten;
using Microsoft.AspNetCore.Authorization;
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
    /// The wallet now, from its projection; with <c>asOf</c>, the wallet as the ledger stood at
    /// that instant (events recorded up to it), folded from the events.
    /// </summary>
    [WolverineGet("/v1/wallets/{customerId}", OperationId = "GetWallet")]
    [Authorize(Policy = Scopes.WalletsRead)]
    [Tags("Wallets")]
    public static async Task<IResult> Get(string customerId, string? asOf, IQuerySession session, TimeProvider clock,
        CancellationToken cancellation)
    {
        if (!ClientIds.IsValid(customerId)) return Problems.NotFound($"No wallet '{customerId}'.");
        var key = StreamKeys.Customer(customerId);

        if (asOf is null)
        {
            var wallet = await session.LoadAsync<Wallet>(key, cancellation);
            return wallet is null ? Problems.NotFound($"No wallet '{customerId}'.") : Results.Ok(WalletResponse.From(wallet, clock.GetUtcNow()));
        }

        if (!Timestamps.TryParse(asOf, out var instant))
        {
            return Problems.Validation("asOf", "Must be an RFC 3339 timestamp with offset.");
        }

        var past = await session.Events.AggregateStreamAsync<Wallet>(key, timestamp: instant, token: cancellation);
        if (past is not null) return Results.Ok(WalletResponse.From(past, instant));

        var exists = await session.LoadAsync<Wallet>(key, cancellation) is not null;
        return exists
            ? Problems.NotFound($"Wallet '{customerId}' did not exist at {Timestamps.Format(instant)}.")
            : Problems.NotFound($"No wallet '{customerId}'.");
    }
}
