namespace Ledger.Hosting;

/// <summary>
/// <c>Ledger token [--scope "wallets:read wallets:write"] [--sub dev] [--hours 12]</c>: prints a
/// bearer token signed with <c>Ledger:Auth:SigningKey</c>. For development and tests only.
/// </summary>
public static class DevelopmentToken
{
    public static int Run(string[] args, IConfiguration configuration)
    {
        var scope = "admin";
        var subject = "developer";
        var hours = 12;
        for (var i = 0; i < args.Length - 1; i += 2)
        {
            switch (args[i])
            {
                case "--scope": scope = args[i + 1]; break;
                case "--sub": subject = args[i + 1]; break;
                case "--hours" when int.TryParse(args[i + 1], out var h) && h > 0: hours = h; break;
                default:
                    Console.Error.WriteLine($"Unknown option {args[i]}. Usage: token [--scope \"...\"] [--sub name] [--hours n]");
                    return 2;
            }
        }

        try
        {
            Console.WriteLine(Authentication.MintToken(configuration["Ledger:Auth:SigningKey"] ?? "", subject, scope,
                TimeSpan.FromHours(hours), DateTimeOffset.UtcNow));
            return 0;
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
    }
}
