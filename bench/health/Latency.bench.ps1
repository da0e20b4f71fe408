#Requires -Version 7.4
<#
.SYNOPSIS
    Measure-PuoLatency -Rate 100 -Duration 10s against an API that stalls 200 ms once a second: the open loop's P99
    must be at least 150 ms; the closed loop at concurrency 1 shows what a benchmark with coordinated omission reports.
.DESCRIPTION
    Issue target: the open-loop P99 is at least 150 ms. The sandbox's API stand-in is set to freeze for the first 200 ms
    of every second (POST /_standin?stallMs=200&periodMs=1000), so a fifth of a fixed schedule waits up to 200 ms and the
    true P99 is about 190 ms. The two sides alternate for -Rounds rounds: Measure-PuoLatency -Rate 100 -Duration 10s
    (open loop, latency from each request's scheduled time) and Measure-PuoLatency -Concurrency 1 -Duration 10s
    (closed loop: one request at a time, so the freeze holds up only the one request in flight). The floor is the open
    loop against the same stand-in without the stall. A curl loop, the closed loop an operator would script, is timed
    once for reference. The stand-in is put back to healthy at the end.
    Uses the sandbox named by -StateFile (default: starts one of its own and stops it afterwards).
    Run after `dotnet pwsh ./build.ps1 -Task Build`, under the benchmark lock: flock /tmp/puo-fullsuite.lock ...
.EXAMPLE
    flock /tmp/puo-fullsuite.lock dotnet pwsh -NoProfile -File bench/health/Latency.bench.ps1 -StateFile out/sandbox/state.json
#>
param(
    [string] $StateFile,
    [ValidateRange(1, 10)]
    [int] $Rounds = 3,
    [ValidateRange(1, 60)]
    [int] $DurationSec = 10
)
$ErrorActionPreference = 'Stop'
$root = Resolve-Path "$PSScriptRoot/../.."
$version = (Import-PowerShellDataFile "$root/PuoOps.psd1").ModuleVersion
Import-Module "$PSScriptRoot/../BenchTools.psm1" -Force
$ownSandbox = -not $StateFile
if ($ownSandbox) { $StateFile = Start-BenchSandbox -Name latency -Arguments '-Services', 'Nginx' }
$api = (Get-Content $StateFile -Raw | ConvertFrom-Json).Api.Url
try {
    Import-Module "$root/out/PuoOps/$version/PuoOps.psd1"
    Connect-PuoEnvironment -Name bench -ApiUrl $api -SkipCheck | Out-Null
    $url = "$api/health"
    $null = Measure-PuoLatency -Url $url -Count 200 -Concurrency 2   # warm-up: JIT, connections

    function Format-Run($run) {
        '{0,6} req  P50 {1,7:N1}  P90 {2,7:N1}  P99 {3,7:N1}  P99.9 {4,7:N1}  max {5,7:N1} ms  {6,7:N1}/s  {7} errors' -f $run.Count,
            $run.P50.TotalMilliseconds, $run.P90.TotalMilliseconds, $run.P99.TotalMilliseconds, $run.P999.TotalMilliseconds,
            $run.Max.TotalMilliseconds, $run.RequestsPerSecond, $run.Errors
    }
    $floor = Measure-PuoLatency -Url $url -Rate 100 -Duration "${DurationSec}s"
    $null = Invoke-RestMethod -Method Post "$api/_standin?stallMs=200&periodMs=1000"
    $open = @(); $closed = @()
    foreach ($round in 1..$Rounds) {
        $run = Invoke-BenchRound @{
            Open   = { Measure-PuoLatency -Url $url -Rate 100 -Duration "${DurationSec}s" }
            Closed = { Measure-PuoLatency -Url $url -Concurrency 1 -Duration "${DurationSec}s" }
        }
        $open += $run.Open; $closed += $run.Closed
    }
    # What a scripted curl loop (closed loop, one at a time) sees in 10 s of the same stalling server.
    $curl = & bash -c "end=`$((SECONDS + $DurationSec)); while [ `$SECONDS -lt `$end ]; do curl -s -o /dev/null -w '%{time_total}\n' $url; done"
    $curlMs = @($curl | ForEach-Object { [double]::Parse($_, [cultureinfo]::InvariantCulture) * 1000 } | Sort-Object)
    [pscustomobject]@{
        Benchmark                                  = "$Rounds rounds of $DurationSec s each side, in random order; stand-in frozen 200 ms every 1000 ms"
        'Open loop -Rate 100 runs'                 = ($open | ForEach-Object { Format-Run $_ }) -join "`n"
        'Closed loop -Concurrency 1 runs'          = ($closed | ForEach-Object { Format-Run $_ }) -join "`n"
        'Open loop P99 ms (median of runs)'        = [math]::Round((Get-Median ($open | ForEach-Object { $_.P99.TotalMilliseconds })), 1)
        'Closed loop P99 ms (median of runs)'      = [math]::Round((Get-Median ($closed | ForEach-Object { $_.P99.TotalMilliseconds })), 1)
        Target                                     = 'open loop P99 >= 150 ms'
        'Floor: open loop, no stall'               = Format-Run $floor
        'curl loop (closed, one process each)'     = '{0} req  P50 {1:N1}  P99 {2:N1}  max {3:N1} ms' -f $curlMs.Count, $curlMs[[int]($curlMs.Count * 0.5)],
            $curlMs[[math]::Min($curlMs.Count - 1, [int]($curlMs.Count * 0.99))], $curlMs[-1]
        'Load average (1, 5, 15 min)'              = (Get-Content /proc/loadavg -ErrorAction Ignore) -replace '^((\S+ ){3}).*', '$1'
    } | Format-List | Out-String -Width 160
}
finally {
    $null = Invoke-RestMethod -Method Post "$api/_standin" -ErrorAction Ignore
    if ($ownSandbox) { Stop-BenchSandbox $StateFile }
}
