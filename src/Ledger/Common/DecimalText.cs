using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ledger.Common;

/// <summary>
/// A decimal as it arrived in JSON: a string such as <c>"12.50"</c>, or an integer number.
/// Anything else (a fractional JSON number, a boolean, an object) is kept as malformed so that
/// validation can name the field instead of failing the whole body.
/// </summary>
[JsonConverter(typeof(DecimalTextJsonConverter))]
public readonly record struct DecimalText(string? Text, bool Malformed = false)
{
    private const int MaxDigits = 24;

    public bool IsMissing => Text is null && !Malformed;

    /// <summary>The shortest text of a value, trailing zeros dropped: <c>0.20</c> and <c>0.2</c> both give <c>0.2</c>.</summary>
    public static string Canonical(decimal value) =>
        (value / 1.000000000000000000000000000000000m).ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Parses plain decimal notation (optional leading minus, digits, optional fraction); no
    /// exponent, no spaces, no leading plus.
    /// </summary>
    public static bool TryParse(string? text, out decimal value, out int scale)
    {
        value = 0m;
        scale = 0;
        if (string.IsNullOrEmpty(text) || text.Length > MaxDigits + 2) return false;

        var span = text.AsSpan();
        var start = span[0] == '-' ? 1 : 0;
        var dot = span.IndexOf('.');
        var integerPart = dot < 0 ? span[start..] : span[start..dot];
        var fraction = dot < 0 ? ReadOnlySpan<char>.Empty : span[(dot + 1)..];
        if (integerPart.IsEmpty || (dot >= 0 && fraction.IsEmpty)) return false;
        foreach (var c in integerPart) if (c is < '0' or > '9') return false;
        foreach (var c in fraction) if (c is < '0' or > '9') return false;

        scale = fraction.Length;
        return decimal.TryParse(span, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint,
            CultureInfo.InvariantCulture, out value);
    }
}

public sealed class DecimalTextJsonConverter : JsonConverter<DecimalText>
{
    public override DecimalText Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return new DecimalText(reader.GetString());
            case JsonTokenType.Number when reader.TryGetInt64(out var integer):
                return new DecimalText(integer.ToString(CultureInfo.InvariantCulture));
            case JsonTokenType.Null:
                return new DecimalText(null);
            default:
                reader.Skip();
                return new DecimalText(null, Malformed: true);
        }
    }

    public override void Write(Utf8JsonWriter writer, DecimalText value, JsonSerializerOptions options)
    {
        if (value.Text is null) writer.WriteNullValue();
        else writer.WriteStringValue(value.Text);
    }
}
