#Requires -Version 7.4
<#
.SYNOPSIS
    Test-PuoHealth (every component, warm session) vs the runbook's health sequence: curl -f API, curl -f MCP,
    pg_isready, redis-cli ping.
.DESCRIPTION
    Issue target: at most 0.3x the time of the runbook's sequence. The runbook side is the four commands as an
    operator runs them, in one bash (`curl -sf .../health || echo "API unhealthy"; ...; pg_isready -q; redis-cli ping`);
    the module side is Test-PuoHealth in this already warm session, which also checks the Docker daemon. Each round
    runs the two in a random order, with a short pause before each, for -Rounds rounds; prints medians and the median
    of the per-round ratios. Two floors are timed in the same rounds: `bash -c true` (what starting the runbook's
    shell costs before any check) and Get-PuoEnvironment (what calling any PuoOps cmdlet costs in this session).
    Uses the sandbox named by -StateFile (default: starts one of its own and stops it afterwards).
    Run after `dotnet pwsh ./build.ps1 -Task Build`, under the benchmark lock: flock /tmp/puo-fullsuite.lock ...
.EXAMPLE
    flock /tmp/puo-fullsuite.lock dotnet pwsh -NoProfile -File bench/health/TestHealth.bench.ps1 -StateFile out/sandbox/state.json
#>
param(
    [string] $StateFile,
    [ValidateRange(5, 500)]
    [int] $Rounds = 40
)
$ErrorActionPreference = 'Stop'
$root = Resolve-Path "$PSScriptRoot/../.."
$version = (Import-PowerShellDataFile "$root/PuoOps.psd1").ModuleVersion
Import-Module "$PSScriptRoot/../BenchTools.psm1" -Force
$ownSandbox = -not $StateFile
if ($ownSandbox) { $StateFile = Start-BenchSandbox -Name health -Arguments '-MemoryRows', '1000' }
try {
    $state = Get-Content $StateFile -Raw | ConvertFrom-Json
    if (-not $state.Docker.Available) { throw "The sandbox has no Docker engine: $($state.Docker.Error)" }
    Import-Module "$root/out/PuoOps/$version/PuoOps.psd1"
    Connect-PuoEnvironment -Name bench -DatabaseUrl $state.Postgres.Url -RedisConnectionString $state.Redis.ConnectionString `
        -DockerHost $state.Docker.Host -ApiUrl $state.Api.Url -McpUrl $state.Mcp.Url | Out-Null

    # The runbook's section, with the sandbox's ports; the Redis password goes through REDISCLI_AUTH, as an operator's would.
    $runbook = @"
curl -sf $($state.Api.Url)/health >/dev/null || echo "API unhealthy"
curl -sf $($state.Mcp.Url)/health >/dev/null || echo "MCP unhealthy"
pg_isready -q -h 127.0.0.1 -p $($state.Postgres.Port) || echo "PostgreSQL not ready"
redis-cli -h 127.0.0.1 -p $($state.Redis.Port) --no-auth-warning ping >/dev/null || echo "Redis not answering"
"@
    $env:REDISCLI_AUTH = $state.Redis.Password
    function TimeRunbook {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $said = & bash -c $runbook
        $elapsed = $watch.Elapsed.TotalMilliseconds
        if ($LASTEXITCODE -or $said) { throw "The runbook sequence reported a problem: $said" }
        $elapsed
    }
    function TimeModule {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $checks = Test-PuoHealth
        $elapsed = $watch.Elapsed.TotalMilliseconds
        if (@($checks).Count -ne 5 -or @($checks | Where-Object Status -ne OK)) { throw "Test-PuoHealth: $($checks | Out-String)" }
        $elapsed
    }
    function TimeShellFloor { (Measure-Command { & bash -c true }).TotalMilliseconds }
    function TimeCmdletFloor { (Measure-Command { $null = Get-PuoEnvironment -Name bench }).TotalMilliseconds }

    foreach ($warm in 1..5) { $null = TimeModule; $null = TimeRunbook; $null = TimeShellFloor; $null = TimeCmdletFloor }

    $load = (Get-Content /proc/loadavg -ErrorAction Ignore) -replace '^((\S+ ){3}).*', '$1'
    $times = @{ Module = [Collections.Generic.List[double]]::new(); Runbook = [Collections.Generic.List[double]]::new()
        Shell = [Collections.Generic.List[double]]::new(); Cmdlet = [Collections.Generic.List[double]]::new() }
    $ratios = [Collections.Generic.List[double]]::new()
    foreach ($round in 1..$Rounds) {
        # The pause before each side stays outside its own timing.
        $this = Invoke-BenchRound @{
            Module = { Start-Sleep -Milliseconds 100; TimeModule }; Runbook = { Start-Sleep -Milliseconds 100; TimeRunbook }
            Shell = { Start-Sleep -Milliseconds 100; TimeShellFloor }; Cmdlet = { Start-Sleep -Milliseconds 100; TimeCmdletFloor }
        }
        foreach ($side in $this.Keys) { $times[$side].Add($this[$side]) }
        $ratios.Add($this.Module / $this.Runbook)
    }
    [pscustomobject]@{
        Benchmark                                 = "$Rounds rounds, sides in random order, warm session"
        'Test-PuoHealth ms (median, 5 checks)'    = [math]::Round((Get-Median $times.Module), 2)
        'Runbook sequence ms (median, 4 checks)'  = [math]::Round((Get-Median $times.Runbook), 2)
        'Ratio (median of per-round ratios)'      = [math]::Round((Get-Median $ratios), 3)
        'Ratio of medians'                        = [math]::Round((Get-Median $times.Module) / (Get-Median $times.Runbook), 3)
        'Ratio min..max'                          = '{0:N3}..{1:N3}' -f ($ratios | Measure-Object -Minimum).Minimum, ($ratios | Measure-Object -Maximum).Maximum
        Target                                    = '<= 0.3x'
        'Floor: bash -c true ms (median)'         = [math]::Round((Get-Median $times.Shell), 2)
        'Floor: a PuoOps cmdlet call ms (median)' = [math]::Round((Get-Median $times.Cmdlet), 2)
        'Load average (1, 5, 15 min)'             = "$load -> $((Get-Content /proc/loadavg -ErrorAction Ignore) -replace '^((\S+ ){3}).*', '$1')"
    } | Format-List | Out-String -Width 160
}
finally {
    Remove-Item Env:REDISCLI_AUTH -ErrorAction Ignore
    if ($ownSandbox) { Stop-BenchSandbox $StateFile }
}
