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
                var members = new List<JsonProperty>();
                foreach (var member in value.EnumerateObject()) members.Add(member);
                members.Sort(static (a, b) => CompareCodePoints(a.Name, b.Name));
                for (var i = 0; i < members.Count; i++)
                {
                    if (i > 0) WriteAscii(output, ",");
                    WriteString(output, members[i].Name);
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

    private static readonly SearchValues<char> NeedsEscape = SearchValues.Create(
        "\"\\\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f");

    public static void WriteString(IBufferWriter<byte> output, string? text)
    {
        if (text is null)
        {
            WriteAscii(output, "null");
            return;
        }

        if (text.AsSpan().IndexOfAny(NeedsEscape) < 0)
        {
            // The common case: nothing to escape, the UTF-8 bytes between quotes.
            var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length) + 2);
            span[0] = (byte)'"';
            var written = Encoding.UTF8.GetBytes(text, span[1..]);
            span[written + 1] = (byte)'"';
            output.Advance(written + 2);
            return;
        }

        var builder = new StringBuilder(text.Length + 8).Append('"');
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

        output.Write(Encoding.UTF8.GetBytes(builder.Append('"').ToString()));
    }

    /// <summary>Unicode code point order (UTF-16 order differs only where a surrogate pair meets U+E000–U+FFFF).</summary>
    public static int CompareCodePoints(string a, string b)
    {
        var length = Math.Min(a.Length, b.Length);
        for (var i = 0; i < length; i++)
        {
            var (x, y) = (a[i], b[i]);
            if (x == y) continue;
            if (char.IsSurrogate(x) != char.IsSurrogate(y) && (x >= 0xE000 || y >= 0xE000))
                return char.IsSurrogate(x) ? 1 : -1; // a surrogate (U+10000 and above) sorts after U+E000–U+FFFF
            return x.CompareTo(y);
        }

        return a.Length.CompareTo(b.Length);
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
