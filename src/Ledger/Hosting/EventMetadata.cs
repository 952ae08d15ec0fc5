using System.Diagnostics;
using Marten;

namespace Ledger.Hosting;

/// <summary>
/// Stamps who and what caused the events a request appends: <c>sub</c> of the token as the
/// actor (Marten's user name), the trace id as correlation id, the request's span as causation id.
/// </summary>
public static class EventMetadata
{
    public const string SystemActor = "system";

    public static void Stamp(IDocumentSession session, HttpContext http)
    {
        var activity = Activity.Current;
        session.LastModifiedBy = http.User.FindFirst("sub")?.Value ?? SystemActor;
        session.CorrelationId = activity?.TraceId.ToHexString() ?? http.TraceIdentifier;
        session.CausationId = activity?.SpanId.ToHexString() ?? http.TraceIdentifier;
    }
}
