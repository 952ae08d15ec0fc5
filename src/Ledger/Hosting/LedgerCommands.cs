using JasperFx;
using JasperFx.Core;
using Marten;
using Wolverine;
using Wolverine.ErrorHandling;

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

        // Writers of one customer serialize on its account row (the role Marten's exclusive stream
        // fetch would play, which is why no StreamLockedException can arise), so a stale expected
        // version means something raced past the lock: rare, and safe to run again from the top (a
        // retry opens a new session and reads the receipt again).
        options.OnException<ConcurrencyException>()
            .RetryWithCooldown(50.Milliseconds(), 100.Milliseconds(), 250.Milliseconds());
    }

    private static bool WritesThroughASession(Wolverine.Runtime.Handlers.HandlerChain chain) =>
        chain.Handlers.Any(h => h.Method.GetParameters().Any(p => p.ParameterType == typeof(IDocumentSession)));
}
