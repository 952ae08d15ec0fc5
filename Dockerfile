# syntax=docker/dockerfile:1

# ---- build ------------------------------------------------------------------
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src

# Restore first, from the files that decide the package graph only, so the
# restore layer is reused until a project or package version changes.
COPY global.json Directory.Build.props Directory.Packages.props Ledger.sln ./
COPY src/Ledger/Ledger.csproj src/Ledger/
RUN dotnet restore src/Ledger/Ledger.csproj

COPY src/ src/
RUN dotnet publish src/Ledger/Ledger.csproj \
        --configuration Release \
        --no-restore \
        --output /app/publish \
        -p:UseAppHost=false

# ---- runtime ----------------------------------------------------------------
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app

# ASPNETCORE_URLS is the one binding; the base image's ASPNETCORE_HTTP_PORTS is
# cleared so Kestrel does not warn about overriding it.
ENV ASPNETCORE_URLS=http://+:8080 \
    ASPNETCORE_HTTP_PORTS= \
    DOTNET_NOLOGO=true

COPY --from=build /app/publish ./

# Non-root: the numeric uid of the image's built-in "app" user (1654), numeric
# so that Kubernetes' runAsNonRoot can verify it.
USER $APP_UID

EXPOSE 8080
ENTRYPOINT ["dotnet", "Ledger.dll"]
