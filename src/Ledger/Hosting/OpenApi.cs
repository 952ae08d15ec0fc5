using Ledger.Common;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Ledger.Hosting;

/// <summary>The OpenAPI document at <c>/openapi/v1.json</c>, with bearer auth and the bodies endpoints read themselves.</summary>
public static class OpenApi
{
    private static readonly Dictionary<Type, string[]> NestedRequired = new()
    {
        [typeof(Metering.Ingestion.UsageEventInput)] = ["id", "customerId", "meter", "quantity", "occurredAt"],
        [typeof(Metering.Ingestion.CloudEventInput)] = ["id", "type", "subject", "time"],
        [typeof(Plans.MeterPriceRequest)] = ["model"],
        [typeof(Plans.PriceTierRequest)] = ["unitPrice"],
    };

    public static IServiceCollection AddLedgerOpenApi(this IServiceCollection services) =>
        services.AddOpenApi("v1", options =>
        {
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "Ledger",
                    Version = "v1",
                    Description = "Event-sourced usage-billing ledger: metering, prepaid wallets, invoicing, audit. " +
                                  "Money and quantities are decimal strings. Authenticate with a bearer JWT; scopes per operation.",
                };
                // A relative server: clients use the address they called, not the one this document was served from.
                document.Servers = [new OpenApiServer { Url = "/", Description = "This Ledger service" }];
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes["bearer"] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    BearerFormat = "JWT",
                    Description = "HS256 JWT, issuer and audience 'ledger', scopes in the 'scope' claim.",
                };
                document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", document)] = [] }];
                document.Info.License = new OpenApiLicense { Name = "Proprietary", Url = new Uri("https://example.com/ledger/license") };
                document.Tags = new HashSet<OpenApiTag>(OpenApiOperations.Tags.Select(t => new OpenApiTag { Name = t.Key, Description = t.Value }));
                return Task.CompletedTask;
            });

            options.AddOperationTransformer(async (operation, context, cancellation) =>
            {
                // Read by people: a summary instead of the route, a description, an example body.
                OpenApiOperations.Doc? doc = null;
                if (operation.OperationId is { } id && OpenApiOperations.ByOperationId.TryGetValue(id, out doc))
                {
                    operation.Summary = doc.Summary;
                    operation.Description = doc.Description;
                }

                var body = context.Description.ActionDescriptor.EndpointMetadata.OfType<JsonRequestBodyAttribute>().FirstOrDefault();
                if (body is null) return;
                var schema = await context.GetOrCreateSchemaAsync(body.BodyType, null, cancellation);
                // What the endpoint requires, not every constructor parameter of the record it binds.
                if (schema is OpenApiSchema concrete) concrete.Required = new HashSet<string>(body.Required);
                var content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/json"] = new() { Schema = schema, Example = doc?.Example is { } example ? System.Text.Json.Nodes.JsonNode.Parse(example) : null },
                };
                if (body is { AlsoAccepts: { } other, AlsoAcceptsType: { } otherType })
                    content[other] = new() { Schema = await context.GetOrCreateSchemaAsync(otherType, null, cancellation) };
                operation.RequestBody = new OpenApiRequestBody { Required = true, Content = content };
            });

            options.AddSchemaTransformer((schema, context, _) =>
            {
                // Members of nested request objects a request must carry (the others are optional).
                if (NestedRequired.TryGetValue(context.JsonTypeInfo.Type, out var required)) schema.Required = new HashSet<string>(required);

                if (context.JsonTypeInfo.Type == typeof(DecimalText))
                {
                    schema.Type = JsonSchemaType.String;
                    schema.Pattern = "^-?[0-9]+(\\.[0-9]+)?$";
                    schema.Description = "A decimal as a string, e.g. \"12.50\"; an integer JSON number is also accepted.";
                    schema.Properties?.Clear();
                }

                return Task.CompletedTask;
            });
        });
}
