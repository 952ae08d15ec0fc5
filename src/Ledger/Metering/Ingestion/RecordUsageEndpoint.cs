using Ledger.Common;
using Ledger.Hosting;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Wolverine;
using Wolverine.Http;

namespace Ledger.Metering.Ingestion;

public sealed record UsageBatchResponse(int Accepted, int Duplicates);

/// <summary>
/// Record a batch of usage, as a client sent it (an HTTP body, or the records of a Kafka poll).
/// <see cref="WriteAlone"/>: record it in a transaction of its own rather than the shared group
/// commit (a Kafka consumer's batch, whose customers no other consumer writes).
/// </summary>
public sealed record RecordUsage(IReadOnlyList<UsageEventInput?> Events, string Source, EventActor Actor, bool WriteAlone = false) : ILedgerCommand;

/// <summary>What became of a usage batch.</summary>
public abstract record UsageResult
{
    public sealed record Recorded(int Accepted, int Duplicates) : UsageResult;

    public sealed record Invalid(IDictionary<string, string[]> Errors) : UsageResult;

    public sealed record TooLarge(int Events) : UsageResult;
}

/// <summary>
/// The one path every usage batch takes, whichever transport brought it: validated as a whole
/// (any invalid event refuses the batch), then queued to the group-commit writer, which records
/// it in one transaction with the other batches queued beside it.
/// </summary>
public static class RecordUsageHandler
{
    public static async Task<UsageResult> Handle(RecordUsage command, CustomerDirectory directory, UsageWriter writer, TimeProvider clock,
        CancellationToken cancellation)
    {
        var events = command.Events;
        if (events.Count == 0) return new UsageResult.Recorded(0, 0);
        if (events.Count > UsageValidation.MaxEventsPerBatch) return new UsageResult.TooLarge(events.Count);

        var errors = new FieldErrors();
        UsageValidation.CheckShape(events, clock.GetUtcNow(), errors);
        if (errors.Any) return new UsageResult.Invalid(errors.ToDictionary());

        var (customers, plans) = await directory.LookupAsync(events.Select(e => e!.CustomerId!), cancellation);
        var usage = UsageValidation.Resolve(events, customers, plans, errors);
        if (errors.Any) return new UsageResult.Invalid(errors.ToDictionary());

        var outcome = command.WriteAlone
            ? await writer.RecordNowAsync(usage, command.Actor, command.Source)
            : await writer.RecordAsync(usage, command.Actor, command.Source, cancellation);
        return new UsageResult.Recorded(outcome.Accepted, outcome.Duplicates);
    }
}

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
    [ProducesProblem(503)]
    [Authorize(Policy = Scopes.UsageWrite)]
    [JsonRequestBody(typeof(UsageBatchRequest), "events", AlsoAccepts = CloudEventsBatch, AlsoAcceptsType = typeof(List<CloudEventInput>))]
    [Tags("Usage")]
    public static async Task<IResult> Post(HttpContext http, IMessageBus bus)
    {
        var raw = await JsonBody.ReadBytesAsync(http.Request, UsageValidation.MaxBodyBytes, CloudEventsBatch);
        if (raw.Problem is not null) return raw.Problem;

        List<UsageEventInput?> events;
        if (raw.MediaType == CloudEventsBatch)
        {
            var cloudEvents = JsonBody.Parse<List<CloudEventInput?>>(raw.Bytes!.Value);
            if (cloudEvents.Problem is not null) return cloudEvents.Problem;
            try
            {
                events = cloudEvents.Value!.Select(c => c?.ToUsage()).ToList();
            }
            catch (System.Text.Json.JsonException)
            {
                return Problems.Validation("$", "A string in a CloudEvent's data is not text (an unpaired surrogate escape).");
            }
        }
        else
        {
            var body = JsonBody.Parse<UsageBatchRequest>(raw.Bytes!.Value);
            if (body.Problem is not null) return body.Problem;
            if (body.Value!.Events is null) return Problems.Validation("events", "Is required.");
            events = body.Value.Events;
        }

        return await bus.InvokeAsync<UsageResult>(new RecordUsage(events, "http", EventActor.From(http)), http.RequestAborted) switch
        {
            UsageResult.Recorded recorded => Results.Ok(new UsageBatchResponse(recorded.Accepted, recorded.Duplicates)),
            UsageResult.Invalid invalid => Problems.Validation(invalid.Errors),
            UsageResult.TooLarge tooLarge => Problems.Problem(StatusCodes.Status413PayloadTooLarge, "payload-too-large", "Payload too large",
                $"At most {UsageValidation.MaxEventsPerBatch} events per batch; this one has {tooLarge.Events}."),
            _ => throw new InvalidOperationException("Unknown usage result."),
        };
    }
}
