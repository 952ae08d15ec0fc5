using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;

namespace Ledger.Hosting;

/// <summary>Declares, for the OpenAPI document, a problem-details answer an endpoint can give.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class ProducesProblemAttribute(int statusCode) : Attribute, IProducesResponseTypeMetadata
{
    public Type? Type => typeof(ProblemDetails);

    public int StatusCode { get; } = statusCode;

    public string? Description => null;

    public IEnumerable<string> ContentTypes { get; } = ["application/problem+json"];
}
