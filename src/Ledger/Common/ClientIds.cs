namespace Ledger.Common;

/// <summary>Ids chosen by clients: customers, plans, meters, usage events and money commands.</summary>
public static class ClientIds
{
    public const int MaxLength = 64;

    public const string Rule = "Must match ^[A-Za-z0-9._:-]{1,64}$ (the whole string: no spaces, line breaks or other characters).";

    /// <summary>
    /// Checks every character of the whole string. A regular expression anchored with <c>^…$</c>
    /// would also match before a final line feed, which once made <c>tu-1</c> and <c>tu-1\n</c> two
    /// idempotency keys for the same top-up.
    /// </summary>
    public static bool IsValid(string? id)
    {
        if (id is null || id.Length is 0 or > MaxLength) return false;
        foreach (var c in id)
        {
            if (!IsAllowed(c)) return false;
        }

        return true;
    }

    private static bool IsAllowed(char c) =>
        c is (>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '_' or ':' or '-';
}

/// <summary>Free text chosen by clients: names, reasons, references, dimension values.</summary>
public static class ClientText
{
    public const string ControlCharacterRule = "Must not contain control characters (U+0000–U+001F, U+007F).";

    /// <summary>
    /// Whether the text holds a C0 control character or DEL — which PostgreSQL text and logs must
    /// never see — or an unpaired surrogate (an escaped <c>\uD800</c> alone), which is not text
    /// and cannot be stored as UTF-8.
    /// </summary>
    public static bool HasControlCharacter(ReadOnlySpan<char> text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c < '\u0020' || c == '\u007F') return true;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
            else if (char.IsSurrogate(c)) return true;
        }

        return false;
    }
}

/// <summary>
/// Stream keys of the event store. Customers and plans live in one key space, so each key
/// carries its kind; client ids cannot contain '/', so keys never collide.
/// </summary>
public static class StreamKeys
{
    public static string Customer(string customerId) => "customer/" + customerId;

    public static string Plan(string planId) => "plan/" + planId;
}
