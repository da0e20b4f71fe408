#Requires -Version 7.4
<#
.SYNOPSIS
    Get-PuoServiceLog -Tail 100000 vs `docker logs --tail 100000` on a container that wrote 1,000,000 lines.
.DESCRIPTION
    Issue target: at most 1.5x the time of docker logs, with memory bounded (the cmdlet streams).
    Time: every side runs from this warm pwsh session, in a random order each round, for -Rounds rounds: the cmdlet's objects go to
    Out-Null, docker's output to /dev/null (through /bin/sh, so pwsh does not re-read its text). Two floors are timed in the same
    rounds: the daemon's own (the same log request over the socket with curl, bytes to /dev/null: no client can be faster), and
    PowerShell's (the same number of ready-made line objects written through a cmdlet to Out-Null: what any cmdlet pays per
    object). Medians, min..max and every round's figure are printed, with the load average.
    Memory: peak RSS (/usr/bin/time -v) of a child pwsh that imports the module and reads -Tail 1000, 100000 and
    1000000 lines: if the cmdlet streams, the peak does not grow with the number of lines.
    Uses the sandbox named by -StateFile (default: starts a Docker-only sandbox of its own and stops it afterwards).
    Run after `dotnet pwsh ./build.ps1 -Task Build`. -ModulePath times another build (another commit's out/PuoOps/<version>/PuoOps.psd1)
    under the same harness, so two commits can be compared run by run.
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/docker/ServiceLog.bench.ps1 -StateFile out/sandbox/state.json
#>
param(
    [string] $StateFile,
    [int] $Lines = 1000000,
    [int] $Tail = 100000,
    [int] $Rounds = 5,
    [string] $ModulePath
)
$ErrorActionPreference = 'Stop'
$root = Resolve-Path "$PSScriptRoot/../.."
Import-Module "$PSScriptRoot/../BenchTools.psm1" -Force
$version = (Import-PowerShellDataFile "$root/PuoOps.psd1").ModuleVersion
$manifest = if ($ModulePath) { (Resolve-Path $ModulePath).Path } else { "$root/out/PuoOps/$version/PuoOps.psd1" }
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
    $socket = $docker.Host -replace '^unix://', ''
    $rawFloor = $socket -ne $docker.Host -and (Get-Command curl -ErrorAction Ignore)
    $rawUrl = "http://localhost/containers/$name/logs?stdout=1&stderr=1&tail=$Tail"
    function TimeModule { (Measure-Command { Get-PuoServiceLog -Container $name -Tail $Tail | Out-Null }).TotalMilliseconds }
    function TimeDocker { (Measure-Command { & /bin/sh -c $dockerCommand; if ($LASTEXITCODE) { throw 'docker logs failed.' } }).TotalMilliseconds }
    function TimeRawFloor { (Measure-Command { & curl -sSf --no-progress-meter --unix-socket $socket -o /dev/null $rawUrl; if ($LASTEXITCODE) { throw 'curl failed.' } }).TotalMilliseconds }
    function TimePipelineFloor { (Measure-Command { Write-Output $ready | Out-Null }).TotalMilliseconds }
    $ready = @(Get-PuoServiceLog -Container $name -Tail $Tail)   # warm-up and sanity check; the pipeline floor writes these again
    if ($ready.Count -ne $Tail) { throw "Get-PuoServiceLog returned $($ready.Count) lines, expected $Tail." }
    $null = TimeDocker

    $sides = [ordered]@{ Module = { TimeModule }; Cli = { TimeDocker }; Pipeline = { TimePipelineFloor } }
    if ($rawFloor) { $sides.Raw = { TimeRawFloor } }
    $times = @{ Module = @(); Cli = @(); Pipeline = @(); Raw = @() }
    foreach ($round in 1..$Rounds) {
        $t = Invoke-BenchRound $sides
        foreach ($side in $t.Keys) { $times[$side] += $t[$side] }
    }
    $load = (Get-Content /proc/loadavg -ErrorAction Ignore) -replace '^((\S+ ){3}).*', '$1'

    # Peak memory of a fresh process per tail size: flat if the lines are streamed, not collected.
    $memory = [ordered]@{}
    foreach ($n in 1000, $Tail, $Lines) {
        $script = "Import-Module '$manifest'; Connect-PuoEnvironment -Name m -DockerHost '$($docker.Host)' -SkipCheck | Out-Null; Get-PuoServiceLog -Container $name -Tail $n | Out-Null"
        $report = & /usr/bin/time -v dotnet "$PSHOME/pwsh.dll" -NoProfile -c $script 2>&1 | Out-String
        $memory["Peak RSS MB, -Tail $n"] = [math]::Round([double]([regex]::Match($report, 'Maximum resident set size \(kbytes\): (\d+)').Groups[1].Value) / 1024, 1)
    }

    function Summary([double[]] $values) {
        '{0:N1} ({1:N1}..{2:N1})' -f (Get-Median $values), ($values | Measure-Object -Minimum).Minimum, ($values | Measure-Object -Maximum).Maximum
    }
    $ratios = for ($i = 0; $i -lt $Rounds; $i++) { $times.Module[$i] / $times.Cli[$i] }
    $result = [ordered]@{
        Benchmark                                   = "-Tail $Tail of $Lines lines, $Rounds rounds, load average $load"
        Module                                      = $manifest
        'Get-PuoServiceLog ms, median (min..max)'   = Summary $times.Module
        "docker logs --tail $Tail ms"               = Summary $times.Cli
        'Ratio (median of pairs)'                   = [math]::Round((Get-Median $ratios), 3)
        'Ratio min..max'                            = '{0:N3}..{1:N3}' -f ($ratios | Measure-Object -Minimum).Minimum, ($ratios | Measure-Object -Maximum).Maximum
        'Daemon floor ms (curl, raw API)'           = if ($rawFloor) { Summary $times.Raw } else { 'not measured: needs curl and a unix socket' }
        "PowerShell floor ms ($Tail objects written)" = Summary $times.Pipeline
        'Get-PuoServiceLog ms, every round'         = ($times.Module | ForEach-Object { '{0:N0}' -f $_ }) -join ' '
        'docker logs ms, every round'               = ($times.Cli | ForEach-Object { '{0:N0}' -f $_ }) -join ' '
        Target                                      = '<= 1.5x, memory flat'
    }
    foreach ($key in $memory.Keys) { $result[$key] = $memory[$key] }
    [pscustomobject]$result | Format-List
}
finally {
    $null = & docker -H $docker.Host rm -f $name 2>$null
    if ($ownSandbox) { Stop-BenchSandbox $StateFile }
}
