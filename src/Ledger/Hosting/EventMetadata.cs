using System.Diagnostics;
using JasperFx.Events;
using Marten;

namespace Ledger.Hosting;

/// <summary>
/// Who and what caused the events a command appends: the token's <c>sub</c> as the actor (Marten's
/// user name), the trace id as correlation id, the caller's span as causation id. Taken once at
/// the edge (<see cref="From(HttpContext)"/>, later the Kafka listener) and carried by the command.
/// </summary>
public sealed record EventActor(string Name, string? CorrelationId, string? CausationId)
{
    public const string SystemActor = "system";

    public static EventActor From(HttpContext http)
    {
        var activity = Activity.Current;
        return new EventActor(http.User.FindFirst("sub")?.Value ?? SystemActor,
            activity?.TraceId.ToHexString() ?? http.TraceIdentifier, activity?.SpanId.ToHexString() ?? http.TraceIdentifier);
    }

    /// <summary>Every event the session appends carries this actor.</summary>
    public void Stamp(IDocumentSession session)
    {
        session.LastModifiedBy = Name;
        session.CorrelationId = CorrelationId;
        session.CausationId = CausationId;
    }

    /// <summary>One event carries this actor (a session that appends for several actors, as the usage group commit does).</summary>
    public IEvent Stamp(IEvent e)
    {
        e.UserName = Name;
        e.CorrelationId = CorrelationId;
        e.CausationId = CausationId;
        return e;
    }
}

/// <summary>A command handed to a Wolverine handler: it carries who sent it.</summary>
public interface ILedgerCommand
{
    EventActor Actor { get; }
}

/// <summary>
/// Wolverine middleware on every <see cref="ILedgerCommand"/> handler that writes through a
/// session: the one place that stamps actor, correlation and causation ids on the events.
/// </summary>
public static class CommandMetadata
{
    // Takes the envelope: Wolverine resolves the message by its concrete type, not by an interface.
    public static void Before(Wolverine.Envelope envelope, IDocumentSession session) =>
        ((ILedgerCommand)envelope.Message!).Actor.Stamp(session);
}
