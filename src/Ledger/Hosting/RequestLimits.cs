namespace Ledger.Hosting;

/// <summary>
/// Header and URL limits answered with problem details. Kestrel refuses what exceeds its own
/// limits before any application code runs, with a bare status and no body; so Kestrel's limits
/// are raised well above these and the ledger enforces these itself. Past Kestrel's ceilings
/// (<see cref="KestrelHeaderBytes"/>, <see cref="KestrelRequestLineBytes"/>) Kestrel still answers
/// alone (431/414 without a body): no client of the API comes near them.
/// </summary>
public static class RequestLimits
{
    /// <summary>All header names and values together (Kestrel's default limit).</summary>
    public const int MaxHeaderBytes = 32 * 1024;

    public const int MaxHeaderCount = 100;

    /// <summary>Path and query string together (Kestrel's default request-line limit).</summary>
    public const int MaxTargetBytes = 8 * 1024;

    public const int KestrelHeaderBytes = 256 * 1024;

    public const int KestrelRequestLineBytes = 64 * 1024;

    public static void Configure(Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerLimits limits)
    {
        limits.MaxRequestHeadersTotalSize = KestrelHeaderBytes;
        limits.MaxRequestHeaderCount = MaxHeaderCount * 10;
        limits.MaxRequestLineSize = KestrelRequestLineBytes;
    }

    public static IApplicationBuilder UseRequestLimits(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        var request = http.Request;
        if (request.Path.Value?.Length + request.QueryString.Value?.Length > MaxTargetBytes)
        {
            await Refuse(http, StatusCodes.Status414UriTooLong, "uri-too-long", "URI too long",
                $"The path and query string exceed {MaxTargetBytes} bytes.");
            return;
        }

        var count = 0;
        long bytes = 0;
        foreach (var (name, values) in request.Headers)
        {
            foreach (var value in values)
            {
                count++;
                bytes += name.Length + (value?.Length ?? 0);
            }
        }

        if (count > MaxHeaderCount || bytes > MaxHeaderBytes)
        {
            await Refuse(http, StatusCodes.Status431RequestHeaderFieldsTooLarge, "request-headers-too-large", "Request headers too large",
                $"At most {MaxHeaderCount} headers and {MaxHeaderBytes} bytes of headers are accepted.");
            return;
        }

        await next(http);
    });

    private static Task Refuse(HttpContext http, int status, string slug, string title, string detail)
    {
        // The connection may hold the rest of an oversized request: do not keep it.
        http.Response.Headers.Connection = "close";
        return Problems.Problem(status, slug, title, detail).ExecuteAsync(http);
    }
}
