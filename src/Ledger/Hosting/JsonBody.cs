using System.Text.Json;
using System.Text.Json.Serialization;
using Ledger.Common;

namespace Ledger.Hosting;

/// <summary>
/// Reads a JSON request body. The ledger reads bodies itself rather than through model binding
/// so that every failure — wrong media type, oversized body, malformed JSON, a value of the wrong
/// JSON type — becomes a problem document keyed by field path, without type names or parser
/// internals.
/// </summary>
public static class JsonBody
{
    public const int DefaultMaxBytes = 1024 * 1024;

    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        AllowTrailingCommas = false,
        ReadCommentHandling = JsonCommentHandling.Disallow,
        MaxDepth = 32,
        // {"amount": "1", "amount": "1000"} is refused rather than read as its last value.
        AllowDuplicateProperties = false,
        Converters = { new ClientStringJsonConverter() },
    };

    public static async Task<BodyRead<T>> ReadAsync<T>(HttpRequest request, int maxBytes = DefaultMaxBytes) where T : class
    {
        var raw = await ReadBytesAsync(request, maxBytes);
        return raw.Problem is not null ? BodyRead<T>.Failed(raw.Problem) : Parse<T>(raw.Bytes!.Value, raw.MediaType);
    }

    /// <summary>Reads the whole body within the limit, refusing media types other than JSON (and <paramref name="extraMediaTypes"/>).</summary>
    public static async Task<RawBody> ReadBytesAsync(HttpRequest request, int maxBytes, params string[] extraMediaTypes)
    {
        var mediaType = request.ContentType?.Split(';')[0].Trim() ?? "";
        if (!IsJson(mediaType) && !extraMediaTypes.Contains(mediaType, StringComparer.OrdinalIgnoreCase))
        {
            return new RawBody(null, mediaType, Problems.Problem(StatusCodes.Status415UnsupportedMediaType,
                "unsupported-media-type", "Unsupported media type", "Send the body as application/json."));
        }

        var bytes = await ReadLimitedAsync(request, maxBytes);
        if (bytes is null) return new RawBody(null, mediaType, TooLarge(maxBytes));
        if (bytes.Value.Length == 0) return new RawBody(null, mediaType, Problems.Validation("$", "A JSON body is required."));
        return new RawBody(bytes, mediaType.ToLowerInvariant(), null);
    }

    public static BodyRead<T> Parse<T>(ReadOnlyMemory<byte> bytes, string mediaType = "application/json") where T : class
    {
        try
        {
            var value = JsonSerializer.Deserialize<T>(bytes.Span, Options);
            return value is null
                ? BodyRead<T>.Failed(Problems.Validation("$", "A JSON value is required."))
                : new BodyRead<T>(value, null, mediaType);
        }
        catch (JsonException e)
        {
            return BodyRead<T>.Failed(Problems.Validation(FieldPath(e.Path), Describe(e)));
        }
    }

    public static IResult TooLarge(int maxBytes) =>
        Problems.Problem(StatusCodes.Status413PayloadTooLarge, "payload-too-large", "Payload too large",
            $"The body exceeds {maxBytes} bytes.");

    /// <summary>Turns <c>$.events[3].quantity</c> into <c>events[3].quantity</c>.</summary>
    public static string FieldPath(string? jsonPath) =>
        string.IsNullOrEmpty(jsonPath) || jsonPath == "$" ? "$" : jsonPath.StartsWith("$.", StringComparison.Ordinal) ? jsonPath[2..] : jsonPath.TrimStart('$');

    private static bool IsJson(string mediaType) =>
        mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) ||
        mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase);

    private static string Describe(JsonException e) => e switch
    {
        ClientStringJsonConverter.ControlCharacterException => ClientText.ControlCharacterRule,
        _ when e.Message.StartsWith("Duplicate", StringComparison.Ordinal) => "A member name is repeated in this object; send each member once.",
        _ when e.Message.Contains("could not be converted", StringComparison.Ordinal) => "Has the wrong JSON type.",
        _ => $"Malformed JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine}).",
    };

    private static async Task<ReadOnlyMemory<byte>?> ReadLimitedAsync(HttpRequest request, int maxBytes)
    {
        if (request.ContentLength > maxBytes) return null;

        using var buffer = new MemoryStream(request.ContentLength is > 0 and var n ? (int)n : 4096);
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
        {
            if (buffer.Length + read > maxBytes) return null;
            buffer.Write(chunk, 0, read);
        }

        // The buffer itself, not a copy of it.
        return new ReadOnlyMemory<byte>(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}

public readonly record struct RawBody(ReadOnlyMemory<byte>? Bytes, string MediaType, IResult? Problem);

public readonly record struct BodyRead<T>(T? Value, IResult? Problem, string MediaType) where T : class
{
    public static BodyRead<T> Failed(IResult problem) => new(null, problem, "");
}

/// <summary>
/// Every string a request body carries (ids, names, reasons, references, dimension values, and
/// dictionary keys) is read through this converter, which refuses control characters at parse
/// time: the serializer then reports the field path, and no such text can reach PostgreSQL (which
/// refuses a NUL) or a log line.
/// </summary>
public sealed class ClientStringJsonConverter : JsonConverter<string>
{
    public override bool HandleNull => false;

    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String) throw new JsonException("The JSON value could not be converted to a string.");
        return Checked(ref reader);
    }

    public override string ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        Checked(ref reader);

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);

    public override void WriteAsPropertyName(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WritePropertyName(value);

    // Raw control characters are already malformed JSON, so only an escaped string can hold one.
    private static string Checked(ref Utf8JsonReader reader)
    {
        var value = reader.GetString()!;
        return reader.ValueIsEscaped && ClientText.HasControlCharacter(value) ? throw new ControlCharacterException() : value;
    }

    public sealed class ControlCharacterException() : JsonException(ClientText.ControlCharacterRule);
}

/// <summary>Declares the JSON body an endpoint reads itself, for the OpenAPI document.</summary>
[AttributeUsage(AttributeTargets.Method)]
/// <summary>
/// The body an endpoint reads itself (for the OpenAPI document): its type, the members a request
/// must carry (the rest are optional), and another media type it also accepts, with its body type.
/// </summary>
public sealed class JsonRequestBodyAttribute(Type bodyType, params string[] required) : Attribute
{
    public Type BodyType { get; } = bodyType;

    public IReadOnlyList<string> Required { get; } = required;

    public string? AlsoAccepts { get; init; }

    public Type? AlsoAcceptsType { get; init; }
}

/// <summary>Field checks shared by every command body.</summary>
public static class Check
{
    public static void ClientId(FieldErrors errors, string field, string? value)
    {
        if (!ClientIds.IsValid(value)) errors.Add(field, value is null ? "Is required." : ClientIds.Rule);
    }

    public static void Text(FieldErrors errors, string field, string? value, int maxLength, bool required = true)
    {
        if (value is null || value.Trim().Length == 0)
        {
            if (required) errors.Add(field, "Is required.");
        }
        else if (value.Length > maxLength)
        {
            errors.Add(field, $"Must be at most {maxLength} characters.");
        }
        else if (ClientText.HasControlCharacter(value))
        {
            errors.Add(field, ClientText.ControlCharacterRule);
        }
    }

    /// <summary>
    /// The largest magnitude any amount or quantity may have, so that running totals and balances
    /// (numeric(28,6) in PostgreSQL) can never overflow.
    /// </summary>
    public const decimal MaxMagnitude = 1_000_000_000_000_000m;

    /// <summary>Parses a decimal string; adds an error and returns null when it is not one.</summary>
    public static decimal? Decimal(FieldErrors errors, string field, DecimalText value, int maxScale,
        bool required = true, decimal? min = null, bool allowZero = true, bool positive = false)
    {
        if (value.IsMissing)
        {
            if (required) errors.Add(field, "Is required.");
            return null;
        }

        if (value.Malformed || !DecimalText.TryParse(value.Text, out var parsed, out var scale))
        {
            errors.Add(field, "Must be a decimal string such as \"12.50\".");
            return null;
        }

        if (scale > maxScale)
        {
            errors.Add(field, $"Must have at most {maxScale} decimal places.");
            return null;
        }

        if (Math.Abs(parsed) > MaxMagnitude)
        {
            errors.Add(field, "Must be at most 1000000000000000 in magnitude.");
            return null;
        }

        if (positive && parsed <= 0m)
        {
            errors.Add(field, "Must be greater than zero.");
            return null;
        }

        if (!allowZero && parsed == 0m)
        {
            errors.Add(field, "Must not be zero.");
            return null;
        }

        if (min is { } lower && parsed < lower)
        {
            errors.Add(field, $"Must be at least {lower}.");
            return null;
        }

        return parsed;
    }
}
