using Ledger.Common;
using Ledger.Hosting;
using Marten;

namespace Ledger.Wallets;

/// <summary>
/// Proof that a money command was applied, keyed by customer and client id, stored in the same
/// transaction as the event. A replay with the same content answers from it; other content is a
/// conflict. Refused commands leave no receipt, so a refused debit may be retried after a top-up.
/// </summary>
public sealed record MoneyCommandReceipt(
    string Id,
    MoneyCommandKind Kind,
    string Fingerprint,
    decimal BalanceAfter,
    string Currency,
    long VersionAfter,
    DateTimeOffset RecordedAt)
{
    public static string KeyFor(string customerId, string commandId) => customerId + "/" + commandId;
}

public sealed record MoneyCommandResponse(string Id, string Balance, long Version);

/// <summary>The one path every manual money command takes into a wallet.</summary>
public static class MoneyMovement
{
    public static async Task<IResult> ExecuteAsync(MoneyCommandKind kind, string customerId, HttpContext http,
        IDocumentSession session, TimeProvider clock)
    {
        var errors = new FieldErrors();
        if (!ClientIds.IsValid(customerId)) return Problems.NotFound($"No wallet '{customerId}'.");

        var body = await JsonBody.ReadAsync<MoneyCommandRequest>(http.Request);
        if (body.Problem is not null) return body.Problem;

        var command = WalletRules.Validate(kind, customerId, body.Value!, errors);
        if (command is null) return errors.ToProblem();

        EventMetadata.Stamp(session, http);

        // The row lock on the stream serializes concurrent commands on one wallet: each sees the
        // balance the previous one left, so none is lost and none overdraws.
        var stream = await session.Events.FetchForExclusiveWriting<Wallet>(StreamKeys.Customer(customerId), http.RequestAborted);
        var wallet = stream.Aggregate;
        if (wallet is null) return Problems.NotFound($"No wallet '{customerId}'.");

        var receiptKey = MoneyCommandReceipt.KeyFor(customerId, command.Id);
        var receipt = await session.LoadAsync<MoneyCommandReceipt>(receiptKey, http.RequestAborted);
        if (receipt is not null)
        {
            return receipt.Kind == kind && receipt.Fingerprint == command.Fingerprint
                ? Results.Ok(Response(command.Id, receipt))
                : Problems.Conflict("idempotency-conflict",
                    $"Id '{command.Id}' was already used on this wallet for a different command; choose a new id.");
        }

        var now = clock.GetUtcNow();
        switch (WalletRules.Decide(wallet, command, now))
        {
            case WalletDecision.Refused { Reason: WalletRefusal.AmountTooPrecise } refused:
                return Problems.Validation("amount", refused.Detail);
            case WalletDecision.Refused refused:
                return Problems.Unprocessable("insufficient-funds", "Insufficient funds", refused.Detail);
            case WalletDecision.Accepted accepted:
                stream.AppendOne(accepted.Event);
                var after = wallet.Apply(accepted.Event);
                var created = new MoneyCommandReceipt(receiptKey, kind, command.Fingerprint, after.Balance.Amount,
                    after.Currency, stream.CurrentVersion ?? after.Version + 1, now);
                session.Insert(created);
                await session.SaveChangesAsync(http.RequestAborted);
                return Results.Json(Response(command.Id, created), statusCode: StatusCodes.Status201Created);
            default:
                throw new InvalidOperationException("Unknown wallet decision.");
        }
    }

    private static MoneyCommandResponse Response(string id, MoneyCommandReceipt receipt) =>
        new(id, new Money(receipt.BalanceAfter, receipt.Currency).ToLedgerString(), receipt.VersionAfter);
}
