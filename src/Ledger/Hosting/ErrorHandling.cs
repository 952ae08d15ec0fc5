using System.Diagnostics;
using JasperFx;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace Ledger.Hosting;

/// <summary>
/// Every error leaves as problem details: no stack trace, SQL or type name in any body. The
/// problem type is a <c>urn:ledger:problem:</c> slug and the trace id is included to find the log.
/// </summary>
public static class ErrorHandling
{
    public static IServiceCollection AddLedgerProblemDetails(this IServiceCollection services)
    {
        services.AddExceptionHandler<LedgerExceptionHandler>();
        services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            var problem = context.ProblemDetails;
            if (problem.Type is null || problem.Type.StartsWith("https://tools.ietf.org", StringComparison.Ordinal))
            {
                problem.Type = Problems.TypePrefix + Slug(problem.Status ?? context.HttpContext.Response.StatusCode);
            }

            problem.Detail ??= problem.Status switch
            {
                401 => "A valid bearer token is required.",
                403 => "The token lacks the scope this operation needs.",
                404 => "No such resource.",
                _ => problem.Title,
            };
            problem.Extensions["traceId"] = Activity.Current?.TraceId.ToHexString() ?? context.HttpContext.TraceIdentifier;
        });
        return services;
    }

    private static string Slug(int status) => status switch
    {
        400 => "bad-request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not-found",
        405 => "method-not-allowed",
        406 => "not-acceptable",
        409 => "conflict",
        413 => "payload-too-large",
        414 => "uri-too-long",
        415 => "unsupported-media-type",
        431 => "request-headers-too-large",
        422 => "unprocessable",
        429 => "rate-limited",
        503 => "unavailable",
        _ when status >= 500 => "internal",
        _ => "error",
    };

    private sealed class LedgerExceptionHandler(IProblemDetailsService problems, ILogger<LedgerExceptionHandler> logger) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellation)
        {
            var (status, slug, title, detail) = exception switch
            {
                _ when DatabaseOutage.IsOutage(exception) && !http.RequestAborted.IsCancellationRequested => (503, "unavailable", "Service unavailable",
                    $"The ledger's database is unavailable; nothing was stored. Retry after {DatabaseOutage.RetryAfterSeconds} seconds (money commands and usage are idempotent by id)."),
                ConcurrencyException or Marten.Exceptions.ExistingStreamIdCollisionException => (409, "concurrency-conflict", "Conflict",
                    "Another change to the same resource was recorded first; read it again and retry."),
                System.Threading.Channels.ChannelClosedException => (503, "shutting-down", "Service unavailable",
                    "This instance is shutting down; send the request again (usage is deduplicated by id)."),
                BadHttpRequestException bad when bad.StatusCode == 413 => (413, "payload-too-large", "Payload too large",
                    "The body is larger than this endpoint accepts."),
                BadHttpRequestException bad => (bad.StatusCode, "bad-request", "Bad request", "The request could not be read."),
                OperationCanceledException when http.RequestAborted.IsCancellationRequested => (499, "cancelled", "Cancelled",
                    "The client closed the request."),
                _ => (500, "internal", "Internal error", "An unexpected error occurred; it was logged with the trace id."),
            };

            if (status == 503)
            {
                // An outage is not a bug: one line without the stack trace (which would carry SQL).
                logger.LogWarning("{Method} {Path} answered 503: {Reason}", http.Request.Method, http.Request.Path, DatabaseOutage.Describe(exception));
                http.Response.Headers.RetryAfter = DatabaseOutage.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (status >= 500)
            {
                logger.LogError(exception, "Unhandled error on {Method} {Path}", http.Request.Method, http.Request.Path);
            }

            http.Response.StatusCode = status;
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = http,
                ProblemDetails = new ProblemDetails
                {
                    Status = status,
                    Type = Problems.TypePrefix + slug,
                    Title = title,
                    Detail = detail,
                },
            });
        }
    }
}
