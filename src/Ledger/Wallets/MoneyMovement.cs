using Ledger.Accounts;
using Ledger.Common;
using Ledger.Hosting;
using Ledger.Integration;
using Marten;
using Wolverine;

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

    public MoneyCommandResponse Response(string id) => new(id, new Money(BalanceAfter, Currency).ToLedgerString(), VersionAfter);
}

public sealed record MoneyCommandResponse(string Id, string Balance, long Version);

/// <summary>What became of a money command.</summary>
public abstract record MoneyOutcome
{
    public sealed record Applied(MoneyCommandResponse Response) : MoneyOutcome;

    public sealed record Replayed(MoneyCommandResponse Response) : MoneyOutcome;

    public sealed record NoWallet : MoneyOutcome;

    public sealed record IdReused(string Id) : MoneyOutcome;

    public sealed record Refused(WalletRefusal Reason, string Detail) : MoneyOutcome;
}

/// <summary>
/// The one handler of every manual money command (top-up, debit, adjustment), whichever
/// transport brings it. Wolverine opens the session and commits it after the handler (with the
/// outbox); the handler locks the customer's account row, which serializes every writer of the
/// wallet — money commands, usage, period close — so each sees the balance the previous one left.
/// </summary>
public static class MoneyCommandHandler
{
    private static readonly System.Diagnostics.Metrics.Counter<long> Commands = Observability.Meter.CreateCounter<long>("ledger.wallet.commands", "{command}",
        "Money commands by kind (top_up, debit, adjustment) and outcome (applied, replayed, refused, conflict, no_wallet).");

    public static async Task<MoneyOutcome> Handle(MoneyCommand command, IDocumentSession session, IMessageContext messaging, TimeProvider clock,
        CancellationToken cancellation)
    {
        var outcome = await DecideAsync(command, session, messaging, clock, cancellation);
        Commands.Add(1, new KeyValuePair<string, object?>("kind", command.Kind switch
            {
                MoneyCommandKind.TopUp => "top_up",
                MoneyCommandKind.Debit => "debit",
                _ => "adjustment",
            }),
            new KeyValuePair<string, object?>("outcome", outcome switch
            {
                MoneyOutcome.Applied => "applied",
                MoneyOutcome.Replayed => "replayed",
                MoneyOutcome.Refused => "refused",
                MoneyOutcome.IdReused => "conflict",
                _ => "no_wallet",
            }));
        return outcome;
    }

    private static async Task<MoneyOutcome> DecideAsync(MoneyCommand command, IDocumentSession session, IMessageContext messaging, TimeProvider clock,
        CancellationToken cancellation)
    {
        var account = await AccountTable.LockAsync(session, command.CustomerId, cancellation);
        if (account is null) return new MoneyOutcome.NoWallet();
        var schema = session.DocumentStore.Options.DatabaseSchemaName;

        var receiptKey = MoneyCommandReceipt.KeyFor(command.CustomerId, command.Id);
        var receipt = await session.LoadAsync<MoneyCommandReceipt>(receiptKey, cancellation);
        if (receipt is not null)
        {
            return receipt.Kind == command.Kind && receipt.Fingerprint == command.Fingerprint
                ? new MoneyOutcome.Replayed(receipt.Response(command.Id))
                : new MoneyOutcome.IdReused(command.Id);
        }

        var now = clock.GetUtcNow();
        switch (WalletRules.Decide(account, command, now))
        {
            case WalletDecision.Refused refused:
                return new MoneyOutcome.Refused(refused.Reason, refused.Detail);
            case WalletDecision.Accepted accepted:
                var after = account.Apply(accepted.Event);
                // The expected version guards what the lock already ensures: nothing else appended in between.
                session.Events.Append(StreamKeys.Customer(command.CustomerId), after.StreamVersion, accepted.Event);
                AccountTable.Save(session, schema, after);
                var created = new MoneyCommandReceipt(receiptKey, command.Kind, command.Fingerprint, after.Balance.Amount,
                    after.Currency, after.WalletVersion, now);
                session.Insert(created);
                // Held in the outbox with this transaction; sent to ledger.events.v1 once it commits.
                foreach (var integration in IntegrationEvents.ForMoneyCommand(account, after, accepted.Event))
                {
                    await messaging.PublishAsync(IntegrationEvents.Counted(integration), IntegrationEvents.Keyed(integration));
                }

                return new MoneyOutcome.Applied(created.Response(command.Id));
            default:
                throw new InvalidOperationException("Unknown wallet decision.");
        }
    }
}
