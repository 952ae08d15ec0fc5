using Marten;
using Wolverine;

namespace Ledger.Hosting;

/// <summary>
/// Wolverine as the command pipeline: every command is a message with a handler; HTTP endpoints
/// (and the Kafka listener) only translate. Handlers that write through a Marten session get the
/// transactional middleware (the session is saved and committed after the handler, with the
/// durable outbox) and the one middleware that stamps actor, correlation and causation ids.
/// </summary>
public static class LedgerCommands
{
    public static void Configure(WolverineOptions options)
    {
        options.Policies.AutoApplyTransactions();
        options.Policies.UseDurableOutboxOnAllSendingEndpoints();
        options.Policies.AddMiddleware(typeof(CommandMetadata), chain =>
            typeof(ILedgerCommand).IsAssignableFrom(chain.MessageType) && WritesThroughASession(chain));

        // No retry policy for ConcurrencyException: writers of one customer serialize on its account
        // row (the role Marten's exclusive stream fetch would play, so no StreamLockedException can
        // arise either), and a stale expected version would mean something raced past the lock. An
        // inline retry would also keep the first attempt's outgoing messages (Wolverine's inline
        // retry does not clear them), publishing integration events of a transaction that rolled
        // back. So a conflict answers 409 concurrency-conflict, and the client's retry with the
        // same id is idempotent.
    }

    private static bool WritesThroughASession(Wolverine.Runtime.Handlers.HandlerChain chain) =>
        chain.Handlers.Any(h => h.Method.GetParameters().Any(p => p.ParameterType == typeof(IDocumentSession)));
}
