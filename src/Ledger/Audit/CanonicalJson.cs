using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Ledger.Audit;

/// <summary>
/// The canonical bytes of a JSON value, the form the audit hash is taken over (docs/audit.md):
/// defined on the parsed value, so PostgreSQL's JSONB (which reorders keys and drops whitespace)
/// gives back the same bytes as the writer saw.
/// <list type="bullet">
/// <item>no whitespace; object members sorted by the Unicode code points of their names;</item>
/// <item>strings in double quotes, escaping only <c>"</c>, <c>\</c> and U+0000–U+001F (<c>\b \f \n \r \t</c>, else <c>\u00xx</c>), everything else as UTF-8;</item>
/// <item>numbers in plain decimal notation, no exponent, no leading zeros, no trailing fraction zeros, no lone point, <c>0</c> for any zero;</item>
/// <item><c>true</c>, <c>false</c>, <c>null</c>.</item>
/// </list>
/// </summary>
public static class CanonicalJson
{
    public static void Write(IBufferWriter<byte> output, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                WriteAscii(output, "{");
                var members = value.EnumerateObject().Select(p => (Name: Encoding.UTF8.GetBytes(p.Name), p.Name, p.Value)).ToList();
                // UTF-8 byte order is code point order.
                members.Sort((a, b) => a.Name.AsSpan().SequenceCompareTo(b.Name));
                for (var i = 0; i < members.Count; i++)
                {
                    if (i > 0) WriteAscii(output, ",");
                    WriteString(output, members[i].Item2);
                    WriteAscii(output, ":");
                    Write(output, members[i].Value);
                }

                WriteAscii(output, "}");
                break;
            case JsonValueKind.Array:
                WriteAscii(output, "[");
                var first = true;
                foreach (var item in value.EnumerateArray())
                {
                    if (!first) WriteAscii(output, ",");
                    first = false;
                    Write(output, item);
                }

                WriteAscii(output, "]");
                break;
            case JsonValueKind.String:
                WriteString(output, value.GetString()!);
                break;
            case JsonValueKind.Number:
                WriteAscii(output, Number(value.GetRawText()));
                break;
            case JsonValueKind.True:
                WriteAscii(output, "true");
                break;
            case JsonValueKind.False:
                WriteAscii(output, "false");
                break;
            default:
                WriteAscii(output, "null");
                break;
        }
    }

    public static void WriteString(IBufferWriter<byte> output, string? text)
    {
        if (text is null)
        {
            WriteAscii(output, "null");
            return;
        }

        var builder = new StringBuilder(text.Length + 2).Append('"');
        foreach (var c in text)
        {
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\b': builder.Append("\\b"); break;
                case '\f': builder.Append("\\f"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                default:
                    if (c < 0x20) builder.Append("\\u00").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else builder.Append(c);
                    break;
            }
        }

        builder.Append('"');
        var bytes = Encoding.UTF8.GetBytes(builder.ToString());
        output.Write(bytes);
    }

    public static void WriteAscii(IBufferWriter<byte> output, string text)
    {
        var span = output.GetSpan(text.Length);
        for (var i = 0; i < text.Length; i++) span[i] = (byte)text[i];
        output.Advance(text.Length);
    }

    /// <summary>A JSON number's text in plain decimal notation without redundant zeros.</summary>
    public static string Number(string raw)
    {
        var negative = raw.StartsWith('-');
        var body = negative ? raw[1..] : raw;
        var exponent = 0;
        var e = body.IndexOfAny(['e', 'E']);
        if (e >= 0)
        {
            exponent = int.Parse(body[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            body = body[..e];
        }

        var point = body.IndexOf('.');
        var digits = point < 0 ? body : body[..point] + body[(point + 1)..];
        // The decimal point sits after this many digits.
        var integerLength = (point < 0 ? body.Length : point) + exponent;
        if (integerLength < 0)
        {
            digits = new string('0', -integerLength) + digits;
            integerLength = 0;
        }
        else if (integerLength > digits.Length)
        {
            digits += new string('0', integerLength - digits.Length);
        }

        var integer = digits[..integerLength].TrimStart('0');
        var fraction = digits[integerLength..].TrimEnd('0');
        var text = (integer.Length == 0 ? "0" : integer) + (fraction.Length == 0 ? "" : "." + fraction);
        return negative && text != "0" ? "-" + text : text;
    }
}
