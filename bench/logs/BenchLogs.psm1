<#
.SYNOPSIS
    Shared by the log benchmarks: deterministic logs (a performance log with about 0.5 % slow lines, an nginx access
    log with about 2 % 401/403 lines from 5,000 addresses), timing of a shell command or a script block, a child pwsh
    run that reports its peak memory, and medians.
#>
$ErrorActionPreference = 'Stop'

# C# because PowerShell writes a GB of text lines in minutes; the same seed gives the same bytes on every machine.
Add-Type -TypeDefinition @'
using System;
using System.IO;
using System.Net;
using System.Text;

public static class PuoBenchLogs
{
    static readonly string[] Operations = { "memory.search", "memory.store", "embedding.create", "cache.get", "db.query", "mcp.call" };

    /// <summary>Lines like the runbook's performance_metrics.log; slowFraction of them take 1 s to 30 s. Returns the slow count.</summary>
    public static long WritePerformanceLog(string path, long bytes, double slowFraction, int seed)
    {
        var random = new Random(seed);
        var start = new DateTime(2026, 11, 29, 0, 0, 0);
        long slow = 0;
        using (var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20))
        {
            for (long i = 0; writer.BaseStream.Position < bytes; i++)
            {
                var isSlow = random.NextDouble() < slowFraction;
                var ms = isSlow ? random.Next(1000, 30000) : random.Next(1, 1000);
                slow += isSlow ? 1 : 0;
                // Only the duration has four digits or more after the word "duration", so grep's matches are the slow lines.
                writer.Write(start.AddMilliseconds(i * 7).ToString("yyyy-MM-dd HH:mm:ss,fff"));
                writer.Write(" INFO performance_monitor request_id=r");
                writer.Write(i.ToString("x8"));
                writer.Write(" op=");
                writer.Write(Operations[random.Next(Operations.Length)]);
                writer.Write(" duration=");
                writer.Write(ms);
                writer.Write("ms status=ok rows=");
                writer.Write(random.Next(0, 500));
                writer.Write('\n');
            }
        }
        return slow;
    }

    static readonly string[] Paths = { "/api/memories?limit=20", "/api/memories/search", "/health", "/api/auth/login", "/mcp/sse",
        "/api/memories/8f2c/embedding", "/api/users/me", "/metrics" };
    static readonly string[] Agents = { "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        "curl/8.5.0", "python-requests/2.31.0", "Go-http-client/1.1", "puo-memo-mcp/1.4 (+https://example.invalid)" };
    static readonly int[] OkStatuses = { 200, 200, 200, 200, 201, 204, 304, 404, 500 };

    static string[] Addresses(Random random, int count, byte firstOctet)
    {
        var addresses = new string[count];
        for (var i = 0; i < count; i++)
        {
            // A quarter IPv6 (2001:db8::/32, the documentation prefix), written as IPAddress writes it.
            addresses[i] = i % 4 == 0
                ? new IPAddress(new byte[] { 0x20, 0x01, 0x0d, 0xb8, firstOctet, (byte)(i >> 8), (byte)i, 0, 0, 0, 0, 0, 0, 0, (byte)random.Next(1, 255), (byte)random.Next(256) }).ToString()
                : new IPAddress(new byte[] { firstOctet, (byte)(i >> 8), (byte)i, (byte)random.Next(1, 255) }).ToString();
        }
        return addresses;
    }

    /// <summary>nginx combined lines; failFraction of them are 401 or 403 from 5,000 addresses. Returns the failure count.</summary>
    public static long WriteAccessLog(string path, long bytes, double failFraction, int seed)
    {
        var random = new Random(seed);
        var failing = Addresses(random, 5000, 198);
        var others = Addresses(random, 20000, 10);
        var start = new DateTime(2026, 11, 29, 0, 0, 0);
        long failures = 0;
        using (var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20))
        {
            for (long i = 0; writer.BaseStream.Position < bytes; i++)
            {
                var fail = random.NextDouble() < failFraction;
                failures += fail ? 1 : 0;
                var address = fail ? failing[random.Next(failing.Length)] : others[random.Next(others.Length)];
                var status = fail ? (random.Next(10) < 7 ? 401 : 403) : OkStatuses[random.Next(OkStatuses.Length)];
                writer.Write(address);
                writer.Write(" - - [");
                writer.Write(start.AddMilliseconds(i * 3).ToString("dd/MMM/yyyy:HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture));
                writer.Write(" +0000] \"");
                writer.Write(random.Next(3) == 0 ? "POST " : "GET ");
                writer.Write(Paths[random.Next(Paths.Length)]);
                writer.Write(" HTTP/1.1\" ");
                writer.Write(status);
                writer.Write(' ');
                writer.Write(random.Next(40, 90000));
                writer.Write(random.Next(5) == 0 ? " \"https://app.example.invalid/\" \"" : " \"-\" \"");
                writer.Write(Agents[random.Next(Agents.Length)]);
                writer.Write("\"\n");
            }
        }
        return failures;
    }

    public static void Gzip(string source, string target)
    {
        using (var input = File.OpenRead(source))
        using (var output = File.Create(target))
        using (var gzip = new System.IO.Compression.GZipStream(output, System.IO.Compression.CompressionLevel.Optimal))
            input.CopyTo(gzip, 1 << 20);
    }
}
'@

function Measure-Shell([string] $Command) {
    # Milliseconds of `/bin/sh -c $Command`; its output must go to a file (GNU grep stops at the first match when
    # its output is /dev/null, so that would time nothing).
    $watch = [Diagnostics.Stopwatch]::StartNew()
    & /bin/sh -c $Command
    if ($LASTEXITCODE -gt 1) { throw "'$Command' failed (exit $LASTEXITCODE)." } # grep: 1 is "no match"
    $watch.Elapsed.TotalMilliseconds
}

function Measure-Block([scriptblock] $Block) {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $null = & $Block
    $watch.Elapsed.TotalMilliseconds
}

function Measure-Pwsh([string] $Manifest, [string] $Script) {
    # A whole `pwsh -c` process: start, Import-Module, the script. Returns milliseconds and its peak memory (VmHWM, MB).
    $child = "`$ErrorActionPreference = 'Stop'; Import-Module '$Manifest'; $Script; " +
        "[long]((Get-Content /proc/self/status | Where-Object { `$_ -like 'VmHWM:*' }) -replace '\D', '') / 1KB"
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $output = & dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -Command $child
    $ms = $watch.Elapsed.TotalMilliseconds
    if ($LASTEXITCODE) { throw "pwsh -c failed: $output" }
    [pscustomobject]@{ Ms = $ms; PeakMB = [double]@($output)[-1] }
}

function Add-FloorCommands([System.Collections.Specialized.OrderedDictionary] $Commands, [string] $Path, [string] $Manifest) {
    # What no reader of $Path can beat: cat to /dev/null, a plain .NET read loop of 1 MiB reads in this session, and
    # (for the whole-process runs) starting pwsh and importing the module.
    $buffer = [byte[]]::new(1MB)
    $Commands['floor: cat > /dev/null'] = { Measure-Shell "cat '$Path' > /dev/null" }.GetNewClosure()
    $Commands['floor: .NET 1 MiB read loop'] = {
        Measure-Block { $f = [IO.File]::OpenRead($Path); try { while ($f.Read($buffer, 0, $buffer.Length)) { } } finally { $f.Dispose() } }
    }.GetNewClosure()
    $Commands['floor: pwsh -c Import-Module'] = { Measure-Pwsh $Manifest '1' }.GetNewClosure()
}

function Invoke-BenchRounds([System.Collections.Specialized.OrderedDictionary] $Commands, [int] $Rounds, [System.Collections.IDictionary] $Report) {
    # Each command once to warm up (JIT, caches), then $Rounds rounds of every command once, in a random order each
    # round (run back to back in a fixed order, the first of a pair measures faster on these machines). Adds each
    # command's median (and a process's highest peak memory) to $Report; returns the times by command.
    foreach ($name in $Commands.Keys) { $null = & $Commands[$name] }
    $times = @{}; $peaks = @{}
    foreach ($name in $Commands.Keys) { $times[$name] = [Collections.Generic.List[double]]::new(); $peaks[$name] = 0 }
    foreach ($round in 1..$Rounds) {
        foreach ($name in $Commands.Keys | Get-Random -Shuffle) {
            $result = & $Commands[$name]
            if ($result -is [double]) { $times[$name].Add($result) }
            else { $times[$name].Add($result.Ms); $peaks[$name] = [math]::Max($peaks[$name], $result.PeakMB) }
        }
    }
    foreach ($name in $Commands.Keys) {
        $Report["$name ms (median)"] = [math]::Round((Get-Median $times[$name]), 0)
        if ($peaks[$name]) { $Report["$name peak MB (max)"] = $peaks[$name] }
    }
    $times
}

function Get-LoadAverage { "$((Get-Content /proc/loadavg) -split ' ' | Select-Object -First 3)" }

function Get-Median([double[]] $Values) {
    $sorted = $Values | Sort-Object
    if ($sorted.Count % 2) { $sorted[[int][math]::Floor($sorted.Count / 2)] } else { ($sorted[$sorted.Count / 2 - 1] + $sorted[$sorted.Count / 2]) / 2 }
}

function Format-Ratio([double[]] $Numerators, [double[]] $Denominators) {
    # The median of the per-round ratios, and their range.
    $ratios = for ($i = 0; $i -lt $Numerators.Count; $i++) { $Numerators[$i] / $Denominators[$i] }
    '{0:N3} ({1:N3}..{2:N3})' -f (Get-Median $ratios), ($ratios | Measure-Object -Minimum).Minimum, ($ratios | Measure-Object -Maximum).Maximum
}

Export-ModuleMember -Function Measure-Shell, Measure-Block, Measure-Pwsh, Add-FloorCommands, Invoke-BenchRounds, Get-LoadAverage, Get-Median, Format-Ratio
