using System.Text.Json;
using System.Text.Json.Serialization;
using Ledger.Common;

namespace Ledger.Metering.Ingestion;

/// <summary>One usage event as a client sends it (JSON body item or Kafka message).</summary>
public sealed record UsageEventInput(
    string? Id,
    string? CustomerId,
    string? Meter,
    DecimalText Quantity,
    string? OccurredAt,
    Dictionary<string, string>? Dimensions);

public sealed record UsageBatchRequest(List<UsageEventInput?>? Events);

/// <summary>A CloudEvent 1.0 in structured JSON mode, as far as usage needs it.</summary>
public sealed record CloudEventInput(
    string? SpecVersion,
    string? Id,
    string? Source,
    string? Type,
    string? Subject,
    string? Time,
    [property: JsonPropertyName("data")] JsonElement Data)
{
    /// <summary>
    /// <c>id</c> → id, <c>subject</c> → customerId, <c>type</c> → meter, <c>time</c> → occurredAt,
    /// <c>data.quantity</c> → quantity (default "1"), every other string in <c>data</c> → dimensions.
    /// </summary>
    /// <exception cref="JsonException">A string in <c>data</c> is not text (an unpaired surrogate escape).</exception>
    public UsageEventInput ToUsage()
    {
        try
        {
            return Map();
        }
        catch (InvalidOperationException e)
        {
            throw new JsonException("A string in data is not text.", e);
        }
    }

    private UsageEventInput Map()
    {
        var quantity = new DecimalText("1");
        var dimensions = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Data.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in Data.EnumerateObject())
            {
                if (property.NameEquals("quantity"))
                {
                    quantity = property.Value.ValueKind switch
                    {
                        JsonValueKind.String => new DecimalText(property.Value.GetString()),
                        JsonValueKind.Number when property.Value.TryGetInt64(out var n) => new DecimalText(n.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                        _ => new DecimalText(null, Malformed: true),
                    };
                }
                else if (property.Value.ValueKind == JsonValueKind.String)
                {
                    dimensions[property.Name] = property.Value.GetString()!;
                }
            }
        }

        return new UsageEventInput(Id, Subject, Type, quantity, Time, dimensions);
    }
}
