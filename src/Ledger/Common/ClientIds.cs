using System.Text.RegularExpressions;

namespace Ledger.Common;

/// <summary>Ids chosen by clients: customers, plans, meters, usage events and money commands.</summary>
public static partial class ClientIds
{
    public const string Rule = "Must match ^[A-Za-z0-9._:-]{1,64}$.";

    [GeneratedRegex("^[A-Za-z0-9._:-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    public static bool IsValid(string? id) => id is not null && Pattern().IsMatch(id);
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
