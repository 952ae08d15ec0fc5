using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;

namespace Ledger.Hosting;

/// <summary>
/// Rate limits per token subject (ASP.NET Core's rate limiter, a token bucket per <c>sub</c>), off
/// unless configured — metering clients are never throttled by surprise:
/// <c>Ledger:RateLimits:PermitsPerSecond</c> (the refill) and <c>Ledger:RateLimits:Burst</c> (the
/// bucket, default the same). A request over the limit gets 429 problem details with
/// <c>Retry-After</c>. Anonymous endpoints (health, metrics, docs) are never limited.
/// </summary>
public static class RateLimits
{
    public static bool Enabled(IConfiguration configuration) => PermitsPerSecond(configuration) > 0;

    public static IServiceCollection AddLedgerRateLimits(this IServiceCollection services, IConfiguration configuration)
    {
        var perSecond = PermitsPerSecond(configuration);
        if (perSecond <= 0) return services;
        var burst = int.TryParse(configuration["Ledger:RateLimits:Burst"], CultureInfo.InvariantCulture, out var b) && b > 0 ? b : perSecond;

        return services.AddRateLimiter(options =>
        {
            options.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
                http.User.FindFirst("sub")?.Value is { } subject
                    ? RateLimitPartition.GetTokenBucketLimiter(subject, _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = burst,
                        TokensPerPeriod = perSecond,
                        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    })
                    : RateLimitPartition.GetNoLimiter(""));
            options.OnRejected = async (context, cancellation) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
                context.HttpContext.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
                await Problems.Problem(StatusCodes.Status429TooManyRequests, "rate-limited", "Too many requests",
                        $"More than {perSecond} requests per second (burst {burst}) for this token's subject; retry after {retryAfter} s.")
                    .ExecuteAsync(context.HttpContext);
            };
        });
    }

    private static int PermitsPerSecond(IConfiguration configuration) =>
        int.TryParse(configuration["Ledger:RateLimits:PermitsPerSecond"], CultureInfo.InvariantCulture, out var n) ? n : 0;
}
