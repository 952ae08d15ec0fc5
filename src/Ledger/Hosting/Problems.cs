namespace Ledger.Hosting;

/// <summary>
/// RFC 9457 problem details answered by the API. Each problem type is a URN ending in a stable
/// slug (listed in docs/api.md) so clients can branch on it.
/// </summary>
public static class Problems
{
    public const string TypePrefix = "urn:ledger:problem:";

    public static IResult Validation(IDictionary<string, string[]> errors) =>
        Results.ValidationProblem(errors,
            detail: "One or more fields are invalid; nothing was stored.",
            title: "Invalid request",
            type: TypePrefix + "validation");

    public static IResult Validation(string field, string message) =>
        Validation(new Dictionary<string, string[]> { [field] = [message] });

    public static IResult NotFound(string detail) =>
        Problem(StatusCodes.Status404NotFound, "not-found", "Not found", detail);

    public static IResult Conflict(string slug, string detail) =>
        Problem(StatusCodes.Status409Conflict, slug, "Conflict", detail);

    public static IResult Unprocessable(string slug, string title, string detail) =>
        Problem(StatusCodes.Status422UnprocessableEntity, slug, title, detail);

    public static IResult Problem(int status, string slug, string title, string detail) =>
        Results.Problem(statusCode: status, type: TypePrefix + slug, title: title, detail: detail);
}

/// <summary>Collects field errors keyed by their JSON path, e.g. <c>events[3].quantity</c>.</summary>
public sealed class FieldErrors
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool Any => _errors.Count > 0;

    public void Add(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var list)) _errors[field] = list = [];
        list.Add(message);
    }

    public IDictionary<string, string[]> ToDictionary() =>
        _errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal);

    public IResult ToProblem() => Problems.Validation(ToDictionary());
}
