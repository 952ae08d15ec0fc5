using System.Text;
using Ledger.Hosting;
using Ledger.Metering.Ingestion;

namespace Ledger.Metering.Kafka;

/// <summary>
/// One record of <c>ledger.usage.v1</c> read leniently: the JSON object of one item of
/// <c>POST /v1/usage</c> <c>events</c>, or a structured CloudEvent 1.0 (mapped as over HTTP).
/// What cannot be read gives a reason instead, for the dead-letter topic; the usage rules run
/// afterwards, in the same handler as HTTP.
/// </summary>
public static class UsageRecords
{
    private static readonly byte[] SpecVersion = Encoding.UTF8.GetBytes("\"specversion\"");

    public static (UsageEventInput? Usage, string? Reason) Read(ReadOnlyMemory<byte> value)
    {
        if (value.IsEmpty) return (null, "The record has no value.");
        if (value.Span.IndexOf(SpecVersion) >= 0)
        {
            var cloudEvent = JsonBody.Parse<CloudEventInput>(value);
            if (cloudEvent.Value is not { } c) return (null, "Not a valid CloudEvent: " + Describe(cloudEvent.Problem));
            try
            {
                return (c.ToUsage(), null);
            }
            catch (System.Text.Json.JsonException e)
            {
                return (null, "Not a valid CloudEvent: " + e.Message);
            }
        }

        var usage = JsonBody.Parse<UsageEventInput>(value);
        return usage.Value is { } u ? (u, null) : (null, "Not a valid usage event: " + Describe(usage.Problem));
    }

    /// <summary>The field errors of a validation problem, as one line.</summary>
    public static string Describe(IResult? problem) =>
        problem is Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult { ProblemDetails: Microsoft.AspNetCore.Http.HttpValidationProblemDetails details }
            ? string.Join("; ", details.Errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}"))
            : "unreadable";
}
