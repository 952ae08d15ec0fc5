using Ledger.Hosting;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Ledger.Operations;

public sealed record ProjectionResponse(string Name, string Lifecycle, int Version, long Position, long HighWaterMark, long Lag, string Status, string? Node);

public sealed record ProjectionList(IReadOnlyList<ProjectionResponse> Items);

public sealed record RebuildResponse(string Id, string Projection, string Mode, string Status, long Processed, long Total, long Position, string? Error,
    string StartedAt, string? FinishedAt, long? DifferenceCount, IReadOnlyList<string> Differences)
{
    public static RebuildResponse From(RebuildStatus s) => new(s.Id.ToString(), s.Projection, s.Mode, s.Status, s.Processed, s.Total, s.Position, s.Error,
        Common.Timestamps.Format(s.StartedAt), s.FinishedAt is { } f ? Common.Timestamps.Format(f) : null, s.DifferenceCount, s.Differences);

    public static string Location(RebuildStatus s) => $"/v1/admin/projections/{s.Projection}/rebuilds/{s.Id}";
}

public static class ProjectionEndpoints
{
    /// <summary>
    /// Every read model with its lifecycle, version, position (the last event sequence applied)
    /// against the event store's high-water mark, and lag. Inline read models are written in the
    /// writers' transactions, so their lag is 0 except while one is rebuilt (its position is then
    /// where the rebuild has got to). UsageRollups is kept by the async daemon: its position is the
    /// daemon's progression, and <c>node</c> the node running it (<c>status</c> "stopped" when no
    /// node holds it, "catching-up" while it is behind the high-water mark).
    /// </summary>
    [WolverineGet("/v1/admin/projections", OperationId = "ListProjections")]
    [ProducesResponseType<ProjectionList>(200)]
    [ProducesProblem(401)]
    [ProducesProblem(403)]
    [Authorize(Policy = Scopes.Admin)]
    [Tags("Operations")]
    public static async Task<IResult> List(ReadModels readModels, ProjectionRebuilds rebuilds, DaemonProgress daemon, CancellationToken cancellation) =>
        Results.Ok(await DescribeAsync(readModels, rebuilds, daemon, cancellation));

    /// <summary>Every read model's state, as the admin API and the command line (<c>rebuild --list</c>) show it.</summary>
    public static async Task<ProjectionList> DescribeAsync(ReadModels readModels, ProjectionRebuilds rebuilds, DaemonProgress daemon, CancellationToken cancellation)
    {
        var (highWaterMark, daemonPositions) = await daemon.ReadAsync(cancellation);
        var running = (await rebuilds.ListAsync(null, runningOnly: true, cancellation)).ToDictionary(r => r.Projection, StringComparer.OrdinalIgnoreCase);
        var versions = await rebuilds.LiveVersionsAsync(cancellation);
        var items = new List<ProjectionResponse>();
        foreach (var m in readModels.All)
        {
            var daemonKept = m.Async;
            var position = daemonKept ? daemonPositions[m.Name] : running.TryGetValue(m.Name, out var inlineRebuild) ? inlineRebuild.Position : highWaterMark;
            var node = daemonKept ? await daemon.NodeRunningAsync(m, cancellation) : null;
            var status = running.ContainsKey(m.Name) ? "rebuilding"
                : daemonKept && node is null ? "stopped"
                : daemonKept && highWaterMark > position ? "catching-up"
                : "running";
            items.Add(new ProjectionResponse(m.Name, daemonKept ? "async" : "inline", versions.GetValueOrDefault(m.Name, 1), position, highWaterMark,
                highWaterMark - position, status, node));
        }

        return new ProjectionList(items);
    }

    /// <summary>
    /// Rebuilds a read model from the events on the running ledger: 202 with the rebuild's
    /// <c>Location</c> to poll. While it runs, reads answer from the previous rows: the read model's
    /// table (a plain table, or a Marten document table) is built anew beside the live one and
    /// switched in one short step; no decision is affected. One rebuild per read model at a
    /// time across all nodes: asking again while one runs → 409 with that rebuild's <c>Location</c>.
    /// With <c>?mode=verify</c>: replays the events beside the live rows in the same way, reports
    /// every row that differs (<c>differenceCount</c>, the first 50 in <c>differences</c>) and
    /// replaces nothing.
    /// </summary>
    [WolverinePost("/v1/admin/projections/{name}/rebuild", OperationId = "RebuildProjection")]
    [ProducesResponseType<RebuildResponse>(202)]
    [ProducesProblem(401)]
    [ProducesProblem(403)]
    [ProducesProblem(404)]
    [ProducesProblem(409)]
    [Authorize(Policy = Scopes.Admin)]
    [Tags("Operations")]
    public static async Task<IResult> Rebuild(string name, string? mode, HttpContext http, ReadModels readModels, ProjectionRebuilds rebuilds)
    {
        if (readModels.Find(name) is not { } model) return Problems.NotFound($"No projection '{name}'. Known: {string.Join(", ", readModels.All.Select(m => m.Name))}.");
        if (mode is not (null or "rebuild" or "verify")) return Problems.Validation("mode", "Must be rebuild (the default) or verify.");

        var (status, started) = await rebuilds.StartAsync(model, mode == "verify", http.RequestAborted);
        http.Response.Headers.Location = RebuildResponse.Location(status);
        return started
            ? Results.Json(RebuildResponse.From(status), statusCode: StatusCodes.Status202Accepted)
            : Problems.Conflict("rebuild-running", $"A rebuild of {model.Name} is already running: {RebuildResponse.Location(status)}.");
    }

    [WolverineGet("/v1/admin/projections/{name}/rebuilds/{rebuildId}", OperationId = "GetProjectionRebuild")]
    [ProducesResponseType<RebuildResponse>(200)]
    [ProducesProblem(401)]
    [ProducesProblem(403)]
    [ProducesProblem(404)]
    [Authorize(Policy = Scopes.Admin)]
    [Tags("Operations")]
    public static async Task<IResult> GetRebuild(string name, string rebuildId, ProjectionRebuilds rebuilds, CancellationToken cancellation)
    {
        var status = Guid.TryParse(rebuildId, out var id) ? await rebuilds.GetAsync(id, cancellation) : null;
        return status is null || !status.Projection.Equals(name, StringComparison.OrdinalIgnoreCase)
            ? Problems.NotFound($"No rebuild '{rebuildId}' of '{name}'.")
            : Results.Ok(RebuildResponse.From(status));
    }
}
