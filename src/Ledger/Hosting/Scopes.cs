using System.Security.Claims;

namespace Ledger.Hosting;

/// <summary>The scopes of the <c>scope</c> claim. <see cref="Admin"/> grants every other scope.</summary>
public static class Scopes
{
    public const string UsageWrite = "usage:write";
    public const string WalletsRead = "wallets:read";
    public const string WalletsWrite = "wallets:write";
    public const string BillingWrite = "billing:write";
    public const string FinanceRead = "finance:read";
    public const string Admin = "admin";

    public static readonly IReadOnlyList<string> All = [UsageWrite, WalletsRead, WalletsWrite, BillingWrite, FinanceRead, Admin];

    public static bool Grants(ClaimsPrincipal user, string scope)
    {
        foreach (var claim in user.FindAll("scope"))
        {
            foreach (var granted in claim.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (granted == scope || granted == Admin) return true;
            }
        }

        return false;
    }
}
