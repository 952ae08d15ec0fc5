using Ledger.Common;
using Ledger.Hosting;
using Marten;
using Npgsql;

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
        IDocumentStore store, NpgsqlDataSource dataSource, TimeProvider clock)
    {
        var errors = new FieldErrors();
        if (!ClientIds.IsValid(customerId)) return Problems.NotFound($"No wallet '{customerId}'.");

        var body = await JsonBody.ReadAsync<MoneyCommandRequest>(http.Request);
        if (body.Problem is not null) return body.Problem;

        var command = WalletRules.Validate(kind, customerId, body.Value!, errors);
        if (command is null) return errors.ToProblem();

        var cancellation = http.RequestAborted;
        await using var tx = await LedgerTransaction.BeginAsync(store, dataSource, cancellation);
        EventMetadata.Stamp(tx.Session, http);

        // The wallet row lock serializes every writer of this wallet (money commands and usage):
        // each sees the balance the previous one left, so none is lost and none overdraws.
        var wallet = await WalletTable.ReadAsync(tx.Connection, tx.Transaction, store.Options.DatabaseSchemaName, customerId,
            forUpdate: true, cancellation);
        if (wallet is null) return Problems.NotFound($"No wallet '{customerId}'.");

        var receiptKey = MoneyCommandReceipt.KeyFor(customerId, command.Id);
        var receipt = await tx.Session.LoadAsync<MoneyCommandReceipt>(receiptKey, cancellation);
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
                tx.Session.Events.Append(StreamKeys.Customer(customerId), accepted.Event);
                var after = wallet.Apply(accepted.Event);
                var created = new MoneyCommandReceipt(receiptKey, kind, command.Fingerprint, after.Balance.Amount,
                    after.Currency, after.Version, now);
                tx.Session.Insert(created);
                await tx.CommitAsync(cancellation);
                return Results.Json(Response(command.Id, created), statusCode: StatusCodes.Status201Created);
            default:
                throw new InvalidOperationException("Unknown wallet decision.");
        }
    }

    private static MoneyCommandResponse Response(string id, MoneyCommandReceipt receipt) =>
        new(id, new Money(receipt.BalanceAfter, receipt.Currency).ToLedgerString(), receipt.VersionAfter);
}
