#Requires -Version 7.4
<#
.SYNOPSIS
    Get-PuoContainerStats vs `docker stats --no-stream` on the same 15 running containers.
.DESCRIPTION
    Issue target: at most 0.5x the time of docker stats --no-stream. Creates 15 idle compose-labelled containers on
    the sandbox's Docker engine, warms both sides up, then runs the sides in a random order each round (module call in this warm session, the
    docker CLI as the process an operator runs) for -Rounds rounds and prints medians and the median ratio.
    Each round also times the floor any client meets: the same two rounds of concurrent one-shot stats requests sent
    with curl over the socket (no client overhead at all). The daemon's stats collector makes that about 2 s for 15
    containers (see ContainerStatsService), against about 2.7 s for docker stats, so 0.5x is out of reach of any
    client that measures CPU over two readings; the floor's ratio shows it on the machine at hand.
    Uses the sandbox named by -StateFile (default: starts a Docker-only sandbox of its own and stops it afterwards).
    Run after `dotnet pwsh ./build.ps1 -Task Build`.
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/docker/ContainerStats.bench.ps1 -StateFile out/sandbox/state.json
#>
param(
    [string] $StateFile,
    [int] $Containers = 15,
    [int] $Rounds = 7,
    [switch] $BackToBack
)
$ErrorActionPreference = 'Stop'
$root = Resolve-Path "$PSScriptRoot/../.."
Import-Module "$PSScriptRoot/../BenchTools.psm1" -Force
$version = (Import-PowerShellDataFile "$root/PuoOps.psd1").ModuleVersion
$ownSandbox = -not $StateFile
if ($ownSandbox) { $StateFile = Start-BenchSandbox -Name stats -Arguments '-Services', 'Docker' }
$docker = (Get-Content $StateFile -Raw | ConvertFrom-Json).Docker
if (-not $docker.Available) { throw "The sandbox has no Docker engine: $($docker.Error)" }
$project = "bench-stats-$PID"
$names = foreach ($i in 1..$Containers) { "$project-api-$i" }
try {
    foreach ($i in 1..$Containers) {
        $null = & docker -H $docker.Host run -d --name "$project-api-$i" --network none --stop-timeout 1 `
            --label "com.docker.compose.project=$project" --label com.docker.compose.service=api --label "com.docker.compose.container-number=$i" `
            $docker.Image sh -c 'trap "exit 0" TERM; while true; do sleep 1 & wait $!; done'
        if ($LASTEXITCODE) { throw "docker run failed." }
    }
    Import-Module "$root/out/PuoOps/$version/PuoOps.psd1"
    Connect-PuoEnvironment -Name bench -DockerHost $docker.Host -SkipCheck | Out-Null

    # The daemon's stats collector samples every container it is asked about, then sleeps 1 s; a call arriving
    # during that sleep waits for it to end. A pause before each timed call lets both sides start, as an operator's
    # command does, with the collector idle, so neither pays for the other's leftover sleep.
    function Settle { if (-not $BackToBack) { Start-Sleep -Milliseconds 1500 } }
    $socket = $docker.Host -replace '^unix://', ''
    $curlParallel = $socket -ne $docker.Host -and (Get-Command curl -ErrorAction Ignore) -and ((& curl --help all) -match '--parallel-immediate')
    $ids = @(& docker -H $docker.Host ps -q --no-trunc --filter "label=com.docker.compose.project=$project")
    $oneShots = foreach ($id in $ids) { "http://localhost/v1.41/containers/$id/stats?stream=false&one-shot=true"; '-o'; '/dev/null' }
    function TimeRawFloor {
        Settle
        (Measure-Command {
            foreach ($reading in 1, 2) { & curl -sS --no-progress-meter -Z --parallel-immediate --parallel-max 50 --unix-socket $socket @oneShots; if ($LASTEXITCODE) { throw 'curl failed.' } }
        }).TotalMilliseconds
    }
    function TimeModule { Settle; (Measure-Command { $script:last = @(Get-PuoContainerStats -Project $project) }).TotalMilliseconds }
    function TimeDocker {
        Settle
        (Measure-Command { $script:cli = & docker -H $docker.Host stats --no-stream @names; if ($LASTEXITCODE) { throw 'docker stats failed.' } }).TotalMilliseconds
    }
    $null = TimeModule; $null = TimeDocker   # warm-up: JIT, daemon stats collector, file cache
    if ($last.Count -ne $Containers) { throw "Get-PuoContainerStats returned $($last.Count) rows, expected $Containers." }

    $load = (Get-Content /proc/loadavg -ErrorAction Ignore) -replace '^((\S+ ){3}).*', '$1'
    $module = @(); $cliTimes = @(); $floor = @()
    $sides = [ordered]@{ Module = { TimeModule }; Cli = { TimeDocker } }
    if ($curlParallel) { $sides.Floor = { TimeRawFloor } }
    foreach ($round in 1..$Rounds) {
        $t = Invoke-BenchRound $sides
        $module += $t.Module; $cliTimes += $t.Cli
        if ($curlParallel) { $floor += $t.Floor }
    }
    $ratios = for ($i = 0; $i -lt $Rounds; $i++) { $module[$i] / $cliTimes[$i] }
    [pscustomobject]@{
        Benchmark                           = "$Containers running containers, $Rounds rounds, $(if ($BackToBack) { 'back to back' } else { 'collector idle before each call' })"
        'Get-PuoContainerStats ms (median)' = [math]::Round((Get-Median $module), 1)
        'docker stats --no-stream ms (median)' = [math]::Round((Get-Median $cliTimes), 1)
        'Ratio (median of pairs)'           = [math]::Round((Get-Median $ratios), 3)
        'Ratio min..max'                    = '{0:N3}..{1:N3}' -f ($ratios | Measure-Object -Minimum).Minimum, ($ratios | Measure-Object -Maximum).Maximum
        Target                              = '<= 0.5x'
        'Raw HTTP floor ms (median)'        = if ($curlParallel) { [math]::Round((Get-Median $floor), 1) } else { 'not measured: needs curl 7.68+ and a unix socket' }
        'Raw HTTP floor / docker stats'     = if ($curlParallel) { [math]::Round((Get-Median $floor) / (Get-Median $cliTimes), 3) } else { '' }
        'Load average (1, 5, 15 min)'       = "$load -> $((Get-Content /proc/loadavg -ErrorAction Ignore) -replace '^((\S+ ){3}).*', '$1')"
    } | Format-List
}
finally {
    $ids = @(& docker -H $docker.Host ps -aq --filter "label=com.docker.compose.project=$project")
    if ($ids) { $null = & docker -H $docker.Host rm -f $ids }
    if ($ownSandbox) { Stop-BenchSandbox $StateFile }
}
