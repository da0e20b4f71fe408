#Requires -Version 7.4
<#
.SYNOPSIS
    Switch-PuoTraffic (analysis + verified reload + confirmation) vs the runbook's switch-traffic.sh (rewrite the
    upstream, nginx -s reload), each under a bounded client load through nginx; and the automatic rollback's time.
.DESCRIPTION
    Issue targets: while 5,000 requests at concurrency 8 go through nginx, a switch completes within 3 s with 0 failed
    requests, every answer from exactly one colour; a target killed right after the switch is rolled back within
    -MonitorSec. Sides, in a shuffled order each round, each switching to the idle colour of the sandbox nginx's
    blue/green servers while curl sends 600 GETs of /version at concurrency 8 on fresh connections (xargs -P 8):
      module   Switch-PuoTraffic -MonitorSec 0 in this warm pwsh (3 health probes, 200-request latency run, write,
               nginx -T, one SIGHUP verified by new workers, 10 confirmation probes); its time is SwitchTime.
      runbook  what switch-traffic.sh does: write the new upstream file and `nginx -s reload`, as one shell script
               (it returns before nginx has switched and checks nothing).
      floor    what any correct switch must do once: write the file, nginx -t, SIGHUP, wait until a new worker exists.
    Failed = curl answers other than 200 (000 = transport error). Then, with a busybox httpd as a third colour
    ('canary'): Switch-PuoTraffic -To canary -MonitorSec 30, the httpd killed as soon as nginx serves it; rollback
    time = from the kill until the record's RolledBackAt. Uses the sandbox named by -StateFile (default: an
    nginx-only sandbox of its own, stopped afterwards). Run as root after build.ps1 -Task Build.
.EXAMPLE
    flock /tmp/puo-fullsuite.lock dotnet pwsh -NoProfile -File bench/deployment/Switch.bench.ps1
#>
param(
    [string] $StateFile,
    [int] $Rounds = 5
)
$ErrorActionPreference = 'Stop'
$root = Resolve-Path "$PSScriptRoot/../.."
$version = (Import-PowerShellDataFile "$root/PuoOps.psd1").ModuleVersion
Import-Module "$PSScriptRoot/../BenchTools.psm1" -Force
$ownSandbox = -not $StateFile
if ($ownSandbox) { $StateFile = Start-BenchSandbox -Name switch -Arguments '-Services', 'Nginx' }
$ngx = (Get-Content $StateFile -Raw | ConvertFrom-Json).Nginx
$work = New-Item -ItemType Directory (Join-Path ([IO.Path]::GetTempPath()) "puo-bench-switch-$PID")
$canary = $null
try {
    Import-Module "$root/out/PuoOps/$version/PuoOps.psd1"
    $colors = @{ blue = "127.0.0.1:$($ngx.BluePort)"; green = "127.0.0.1:$($ngx.GreenPort)" }
    $null = Connect-PuoEnvironment -Name bench -NginxConfig $ngx.Conf -NginxPath $ngx.Binary -TrafficFile $ngx.ActiveConf -Color $colors -SkipCheck
    $front = "http://127.0.0.1:$($ngx.Port)/version"

    function Start-Load {
        # 600 GETs at concurrency 8, each curl a fresh connection; one status code per line.
        $out = Join-Path $work "load-$(Get-Random).txt"
        $start = [Diagnostics.ProcessStartInfo]::new('bash')
        foreach ($a in '-c', "seq 600 | xargs -P 8 -I{} curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 $front > '$out'") { $start.ArgumentList.Add($a) }
        $process = [Diagnostics.Process]::Start($start)
        [pscustomobject]@{ Process = $process; Out = $out }
    }
    function Stop-Load($load) {
        $load.Process.WaitForExit()
        $codes = @(Get-Content $load.Out)
        Remove-Item $load.Out
        @($codes | Where-Object { $_ -ne '200' }).Count
    }
    function Get-Idle { if ((Get-PuoTrafficState).ActiveColor -eq 'blue') { 'green' } else { 'blue' } }
    function Get-UpstreamText([string] $Color) { "upstream puo_active {`n    server $($colors[$Color]);`n}`n" }
    function Wait-NewWorker([int[]] $Before) {
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        while ([DateTime]::UtcNow -lt $deadline) {
            $now = @((Get-Content "/proc/$($ngx.Pid)/task/$($ngx.Pid)/children" -Raw).Trim() -split ' ' | Where-Object { $_ } | ForEach-Object { [int]$_ } |
                Where-Object { (Get-Content "/proc/$_/cmdline" -Raw -ErrorAction Ignore) -like 'nginx: worker process*' -and
                               (Get-Content "/proc/$_/cmdline" -Raw -ErrorAction Ignore) -notlike '*shutting down*' })
            if ($now.Count -and -not ($now | Where-Object { $_ -in $Before })) { return }
            Start-Sleep -Milliseconds 5
        }
        throw 'nginx started no new worker within 10 s.'
    }
    function Get-Workers { @(Get-PuoTrafficState).NginxWorkers }

    $sides = [ordered]@{
        module  = {
            $load = Start-Load
            $record = Switch-PuoTraffic -To (Get-Idle) -MonitorSec 0 -MinReloadInterval 0s -Confirm:$false
            [pscustomobject]@{ Ms = $record.SwitchTime.TotalMilliseconds; Failed = Stop-Load $load }
        }
        runbook = {
            $target = Get-Idle
            Set-Content (Join-Path $work 'next.conf') (Get-UpstreamText $target) -NoNewline
            $load = Start-Load
            $watch = [Diagnostics.Stopwatch]::StartNew()
            & bash -c "cp '$work/next.conf' '$($ngx.ActiveConf)' && '$($ngx.Binary)' -p '$($ngx.Prefix)' -c '$($ngx.Conf)' -s reload"
            $ms = $watch.Elapsed.TotalMilliseconds
            [pscustomobject]@{ Ms = $ms; Failed = Stop-Load $load }
        }
        floor   = {
            $target = Get-Idle
            Set-Content (Join-Path $work 'next.conf') (Get-UpstreamText $target) -NoNewline
            $before = Get-Workers
            $load = Start-Load
            $watch = [Diagnostics.Stopwatch]::StartNew()
            & bash -c "cp '$work/next.conf' '$($ngx.ActiveConf).tmp' && mv '$($ngx.ActiveConf).tmp' '$($ngx.ActiveConf)' && '$($ngx.Binary)' -t -q -p '$($ngx.Prefix)' -c '$($ngx.Conf)' && kill -HUP $($ngx.Pid)"
            Wait-NewWorker $before
            $ms = $watch.Elapsed.TotalMilliseconds
            [pscustomobject]@{ Ms = $ms; Failed = Stop-Load $load }
        }
    }
    $results = @{}; foreach ($name in $sides.Keys) { $results[$name] = [Collections.Generic.List[object]]::new() }
    for ($round = 1; $round -le $Rounds; $round++) {
        $r = Invoke-BenchRound -Sides ([ordered]@{
                module = { Start-Sleep -Milliseconds 1200; & $sides.module }
                runbook = { Start-Sleep -Milliseconds 1200; & $sides.runbook }
                floor = { Start-Sleep -Milliseconds 1200; & $sides.floor } })
        foreach ($name in $r.Keys) { $results[$name].Add($r[$name]) }
        Write-Host ("round {0}: {1}" -f $round, (($r.Keys | Sort-Object | ForEach-Object { '{0} {1:n0} ms, {2} failed' -f $_, $r[$_].Ms, $r[$_].Failed }) -join '; '))
    }
    foreach ($name in 'module', 'runbook', 'floor') {
        '{0,-8} median {1,7:n0} ms   failed requests {2} of {3}' -f $name, (Get-Median ($results[$name].Ms)), ($results[$name].Failed | Measure-Object -Sum).Sum, (600 * $Rounds)
    }
    'ratio module/runbook {0:n2}, module/floor {1:n2}' -f ((Get-Median ($results.module.Ms)) / (Get-Median ($results.runbook.Ms))), ((Get-Median ($results.module.Ms)) / (Get-Median ($results.floor.Ms)))

    # Rollback: a third colour served by busybox httpd, killed as soon as nginx serves it.
    $busybox = (Get-Command busybox -ErrorAction Ignore)?.Source
    if (-not $busybox) { 'rollback: skipped (busybox not installed)'; return }
    $port = Get-Random -Minimum 40000 -Maximum 60000
    $www = New-Item -ItemType Directory (Join-Path $work 'www')
    Set-Content "$www/health" '{"status":"healthy"}'; Set-Content "$www/version" 'canary'
    $canary = Start-Process $busybox -ArgumentList 'httpd', '-f', '-p', "127.0.0.1:$port", '-h', $www -PassThru
    $colors.canary = "127.0.0.1:$port"
    $null = Connect-PuoEnvironment -Name canary -NginxConfig $ngx.Conf -NginxPath $ngx.Binary -TrafficFile $ngx.ActiveConf -Color $colors -SkipCheck
    Start-Sleep -Milliseconds 300
    $rollbacks = foreach ($i in 1..3) {
        Start-Sleep -Milliseconds 2100
        if (-not $canary -or $canary.HasExited) { $canary = Start-Process $busybox -ArgumentList 'httpd', '-f', '-p', "127.0.0.1:$port", '-h', $www -PassThru; Start-Sleep -Milliseconds 300 }
        $job = Start-ThreadJob { param($m) Import-Module $m; Switch-PuoTraffic -Environment canary -To canary -MonitorSec 30 -MinReloadInterval 0s -Confirm:$false -ErrorAction SilentlyContinue } -ArgumentList "$root/out/PuoOps/$version/PuoOps.psd1"
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ((& curl -s --max-time 2 $front) -ne 'canary' -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 10 }
        $killed = [DateTimeOffset]::Now
        $canary.Kill(); $canary.WaitForExit()
        $record = $job | Wait-Job -Timeout 60 | Receive-Job
        $job | Remove-Job -Force
        $after = @(1..50 | ForEach-Object { & curl -s -o /dev/null -w '%{http_code}' --max-time 5 $front }) | Where-Object { $_ -ne '200' }
        [pscustomobject]@{ RolledBack = $record.RolledBack; Ms = ($record.RolledBackAt - $killed).TotalMilliseconds; FailedInWindow = $record.MonitorFailed; FailedAfter = @($after).Count; Reason = $record.RollbackReason }
    }
    $rollbacks | Format-Table -AutoSize | Out-String | Write-Host
    'rollback median {0:n0} ms from kill to traffic back; requests failed after rollback: {1}' -f (Get-Median ($rollbacks.Ms)), ($rollbacks.FailedAfter | Measure-Object -Sum).Sum
}
finally {
    if ($canary -and -not $canary.HasExited) { $canary.Kill() }
    if ((Get-Command Switch-PuoTraffic -ErrorAction Ignore) -and (Get-PuoTrafficState -Environment bench -ErrorAction Ignore).ActiveColor -ne 'blue') {
        $null = Switch-PuoTraffic -Environment bench -To blue -MonitorSec 0 -AnalysisRequests 0 -Confirm:$false -ErrorAction Ignore
    }
    Remove-Item $work -Recurse -Force -ErrorAction Ignore
    if ($ownSandbox) {
        Stop-BenchSandbox $StateFile
        Remove-Item $StateFile -ErrorAction Ignore
    }
}
