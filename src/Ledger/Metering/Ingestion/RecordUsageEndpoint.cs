using Ledger.Common;
using Ledger.Customers;
using Ledger.Hosting;
using Ledger.Plans;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Ledger.Metering.Ingestion;

public sealed record UsageBatchResponse(int Accepted, int Duplicates);

public static class RecordUsageEndpoint
{
    public const string CloudEventsBatch = "application/cloudevents-batch+json";

    /// <summary>
    /// Records a batch of usage: validated as a whole (any invalid event → 400, nothing stored),
    /// deduplicated by (customer, event id), rated and debited in real time. Never refused for
    /// lack of funds.
    /// </summary>
    [WolverinePost("/v1/usage", OperationId = "RecordUsage")]
    [ProducesResponseType<UsageBatchResponse>(200)]
    [ProducesProblem(401)]
    [ProducesProblem(403)]
    [ProducesProblem(400)]
    [ProducesProblem(413)]
    [ProducesProblem(415)]
    [Authorize(Policy = Scopes.UsageWrite)]
    [JsonRequestBody(typeof(UsageBatchRequest))]
    [Tags("Usage")]
    public static async Task<IResult> Post(HttpContext http, CustomerDirectory directory, UsageWriter writer, TimeProvider clock)
    {
        var raw = await JsonBody.ReadBytesAsync(http.Request, UsageValidation.MaxBodyBytes, CloudEventsBatch);
        if (raw.Problem is not null) return raw.Problem;

        List<UsageEventInput?> events;
        if (raw.MediaType == CloudEventsBatch)
        {
            var cloudEvents = JsonBody.Parse<List<CloudEventInput?>>(raw.Bytes!.Value);
            if (cloudEvents.Problem is not null) return cloudEvents.Problem;
            events = cloudEvents.Value!.Select(c => c?.ToUsage()).ToList();
        }
        else
        {
            var body = JsonBody.Parse<UsageBatchRequest>(raw.Bytes!.Value);
            if (body.Problem is not null) return body.Problem;
            if (body.Value!.Events is null) return Problems.Validation("events", "Is required.");
            events = body.Value.Events;
        }

        var result = await RecordAsync(events, directory, writer, clock, Actor(http), "http", http.RequestAborted);
        return result.Problem ?? Results.Ok(new UsageBatchResponse(result.Outcome!.Accepted, result.Outcome.Duplicates));
    }

    public static EventActor Actor(HttpContext http)
    {
        var activity = System.Diagnostics.Activity.Current;
        return new EventActor(http.User.FindFirst("sub")?.Value ?? EventMetadata.SystemActor,
            activity?.TraceId.ToHexString() ?? http.TraceIdentifier, activity?.SpanId.ToHexString() ?? http.TraceIdentifier);
    }

    /// <summary>The path every usage batch takes, whichever transport brought it.</summary>
    public static async Task<(UsageOutcome? Outcome, IResult? Problem)> RecordAsync(IReadOnlyList<UsageEventInput?> events,
        CustomerDirectory directory, UsageWriter writer, TimeProvider clock, EventActor actor, string source, CancellationToken cancellation)
    {
        if (events.Count == 0) return (new UsageOutcome(0, 0), null);
        if (events.Count > UsageValidation.MaxEventsPerBatch)
        {
            return (null, Problems.Problem(StatusCodes.Status413PayloadTooLarge, "payload-too-large", "Payload too large",
                $"At most {UsageValidation.MaxEventsPerBatch} events per batch; this one has {events.Count}."));
        }

        var errors = new FieldErrors();
        UsageValidation.CheckShape(events, clock.GetUtcNow(), errors);
        if (errors.Any) return (null, errors.ToProblem());

        var (customers, plans) = await directory.LookupAsync(events.Select(e => e!.CustomerId!), cancellation);

        var usage = UsageValidation.Resolve(events, customers, plans, errors);
        if (errors.Any) return (null, errors.ToProblem());

        return (await writer.RecordAsync(usage, actor, source, cancellation), null);
    }
}
