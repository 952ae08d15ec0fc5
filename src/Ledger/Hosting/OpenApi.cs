using Ledger.Common;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Ledger.Hosting;

/// <summary>The OpenAPI document at <c>/openapi/v1.json</c>, with bearer auth and the bodies endpoints read themselves.</summary>
public static class OpenApi
{
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
                return Task.CompletedTask;
            });

            options.AddOperationTransformer(async (operation, context, cancellation) =>
            {
                var body = context.Description.ActionDescriptor.EndpointMetadata.OfType<JsonRequestBodyAttribute>().FirstOrDefault();
                if (body is null) return;
                var schema = await context.GetOrCreateSchemaAsync(body.BodyType, null, cancellation);
                operation.RequestBody = new OpenApiRequestBody
                {
                    Required = true,
                    Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = schema } },
                };
            });

            options.AddSchemaTransformer((schema, context, _) =>
            {
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
