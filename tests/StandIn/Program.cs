using System.Globalization;
using PuoOps.StandIn;

// dotnet PuoOps.StandIn.dll --name api [--port 0] [--port-file <path>]
// Serves until SIGTERM or Ctrl+C. With --port 0 the system picks a free port; --port-file then receives it
// (written to a temp file and renamed, so a reader never sees it half written).
var name = "api";
var port = 0;
string? portFile = null;
for (var i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--name": name = args[i + 1]; break;
        case "--port": port = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--port-file": portFile = args[i + 1]; break;
        default:
            Console.Error.WriteLine($"Unknown argument {args[i]}. Usage: --name api [--port 0] [--port-file path]");
            return 2;
    }
}
await using var server = await StandInServer.StartAsync(name, port);
if (portFile is not null)
{
    File.WriteAllText(portFile + ".tmp", server.BaseUrl.Port.ToString(CultureInfo.InvariantCulture));
    File.Move(portFile + ".tmp", portFile, overwrite: true);
}
Console.WriteLine($"{name} stand-in listening on {server.BaseUrl}");
await server.WaitForShutdownAsync();
return 0;
