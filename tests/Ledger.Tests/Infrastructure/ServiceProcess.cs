using System.Diagnostics;
using System.Net;

namespace Ledger.Tests.Infrastructure;

/// <summary>The service as a real process (the Release build), for tests that need signals, Kestrel or a crash.</summary>
public static class ServiceProcess
{
    public static Process Start(IReadOnlyDictionary<string, string> environment)
    {
        var service = Path.Combine(LedgerApp.RepositoryRoot(), "src", "Ledger", "bin", "Release", "net10.0");
        var start = new ProcessStartInfo("dotnet", [Path.Combine(service, "Ledger.dll")])
        {
            WorkingDirectory = service, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (var (key, value) in environment) start.Environment[key] = value;
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
