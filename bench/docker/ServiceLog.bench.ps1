#Requires -Version 7.4
<#
.SYNOPSIS
    Get-PuoServiceLog -Tail 100000 vs `docker logs --tail 100000` on a container that wrote 1,000,000 lines.
.DESCRIPTION
    Issue target: at most 1.5x the time of docker logs, with memory bounded (the cmdlet streams).
    Time: both sides run from this warm pwsh session, in a random order each round, for -Rounds rounds: the cmdlet's objects go to
    Out-Null, docker's output to /dev/null (through /bin/sh, so pwsh does not re-read its text). Medians and the
    median ratio are printed.
    Memory: peak RSS (/usr/bin/time -v) of a child pwsh that imports the module and reads -Tail 1000, 100000 and
    1000000 lines: if the cmdlet streams, the peak does not grow with the number of lines.
    Uses the sandbox named by -StateFile (default: starts a Docker-only sandbox of its own and stops it afterwards).
    Run after `dotnet pwsh ./build.ps1 -Task Build`.
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/docker/ServiceLog.bench.ps1 -StateFile out/sandbox/state.json
#>
param(
    [string] $StateFile,
    [int] $Lines = 1000000,
    [int] $Tail = 100000,
    [int] $Rounds = 5
)
$ErrorActionPreference = 'Stop'
$root = Resolve-Path "$PSScriptRoot/../.."
Import-Module "$PSScriptRoot/../BenchTools.psm1" -Force
$version = (Import-PowerShellDataFile "$root/PuoOps.psd1").ModuleVersion
$manifest = "$root/out/PuoOps/$version/PuoOps.psd1"
$ownSandbox = -not $StateFile
if ($ownSandbox) { $StateFile = Start-BenchSandbox -Name log -Arguments '-Services', 'Docker' }
$docker = (Get-Content $StateFile -Raw | ConvertFrom-Json).Docker
if (-not $docker.Available) { throw "The sandbox has no Docker engine: $($docker.Error)" }
$name = "bench-logs-$PID"
try {
    # A request log: every 10th line on stderr, as an application's warnings would be.
    $awk = 'BEGIN { for (i = 1; i <= ' + $Lines + '; i++) { if (i % 10 == 0) printf "WARN api request %d took 1200 ms (slow)\n", i > "/dev/stderr"; else printf "INFO api request %d handled in 12 ms status=200\n", i } }'
    $null = & docker -H $docker.Host run -d --name $name --network none $docker.Image awk $awk
    if ($LASTEXITCODE) { throw 'docker run failed.' }
    $null = & docker -H $docker.Host wait $name
    Import-Module $manifest
    Connect-PuoEnvironment -Name bench -DockerHost $docker.Host -SkipCheck | Out-Null

    $dockerCommand = "docker -H '$($docker.Host)' logs --tail $Tail $name >/dev/null 2>&1"
    function TimeModule { (Measure-Command { Get-PuoServiceLog -Container $name -Tail $Tail | Out-Null }).TotalMilliseconds }
    function TimeDocker { (Measure-Command { & /bin/sh -c $dockerCommand; if ($LASTEXITCODE) { throw 'docker logs failed.' } }).TotalMilliseconds }
    $count = (Get-PuoServiceLog -Container $name -Tail $Tail | Measure-Object).Count   # warm-up and sanity check
    if ($count -ne $Tail) { throw "Get-PuoServiceLog returned $count lines, expected $Tail." }
    $null = TimeDocker

    $module = @(); $cli = @()
    foreach ($round in 1..$Rounds) {
        $t = Invoke-BenchRound ([ordered]@{ Module = { TimeModule }; Cli = { TimeDocker } })
        $module += $t.Module; $cli += $t.Cli
    }

    # Peak memory of a fresh process per tail size: flat if the lines are streamed, not collected.
    $memory = [ordered]@{}
    foreach ($n in 1000, $Tail, $Lines) {
        $script = "Import-Module '$manifest'; Connect-PuoEnvironment -Name m -DockerHost '$($docker.Host)' -SkipCheck | Out-Null; Get-PuoServiceLog -Container $name -Tail $n | Out-Null"
        $report = & /usr/bin/time -v dotnet "$PSHOME/pwsh.dll" -NoProfile -c $script 2>&1 | Out-String
        $memory["Peak RSS MB, -Tail $n"] = [math]::Round([double]([regex]::Match($report, 'Maximum resident set size \(kbytes\): (\d+)').Groups[1].Value) / 1024, 1)
    }

    $ratios = for ($i = 0; $i -lt $Rounds; $i++) { $module[$i] / $cli[$i] }
    $result = [ordered]@{
        Benchmark                             = "-Tail $Tail of $Lines lines, $Rounds rounds"
        'Get-PuoServiceLog ms (median)'       = [math]::Round((Get-Median $module), 1)
        "docker logs --tail $Tail ms (median)" = [math]::Round((Get-Median $cli), 1)
        'Ratio (median of pairs)'             = [math]::Round((Get-Median $ratios), 3)
        'Ratio min..max'                      = '{0:N3}..{1:N3}' -f ($ratios | Measure-Object -Minimum).Minimum, ($ratios | Measure-Object -Maximum).Maximum
        Target                                = '<= 1.5x, memory flat'
    }
    foreach ($key in $memory.Keys) { $result[$key] = $memory[$key] }
    [pscustomobject]$result | Format-List
}
finally {
    $null = & docker -H $docker.Host rm -f $name 2>$null
    if ($ownSandbox) { Stop-BenchSandbox $StateFile }
}
