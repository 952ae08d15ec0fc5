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
    public static (UsageEventInput? Usage, string? Reason) Read(ReadOnlyMemory<byte> value)
    {
        if (value.IsEmpty) return (null, "The record has no value.");
        if (IsCloudEvent(value.Span))
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

    /// <summary>A structured CloudEvent has a top-level <c>specversion</c> (a dimension of that name does not count).</summary>
    private static bool IsCloudEvent(ReadOnlySpan<byte> json)
    {
        var reader = new System.Text.Json.Utf8JsonReader(json);
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType == System.Text.Json.JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("specversion"u8))
                {
                    return true;
                }

                if (reader.TokenType is System.Text.Json.JsonTokenType.StartObject or System.Text.Json.JsonTokenType.StartArray && reader.CurrentDepth >= 1)
                {
                    reader.Skip();
                }
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // Malformed: the usage reader reports why.
        }

        return false;
    }

    /// <summary>The field errors of a validation problem, as one line.</summary>
    public static string Describe(IResult? problem) =>
        problem is Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult { ProblemDetails: Microsoft.AspNetCore.Http.HttpValidationProblemDetails details }
            ? string.Join("; ", details.Errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}"))
            : "unreadable";
}
