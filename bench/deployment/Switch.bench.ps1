#Requires -Version 7.4
<#
.SYNOPSIS
    Switch-PuoTraffic (analysis + verified reload + confirmation) vs the runbook's switch-traffic.sh (rewrite the
    upstream, nginx -s reload), each under a bounded client load through nginx; and the automatic rollback's time.
.DESCRIPTION
    Issue targets: while 5,000 requests at concurrency 8 go through nginx, a switch completes within 3 s with 0 failed
    requests, every answer from exactly one colour; a target killed right after the switch is rolled back within
    -MonitorSec. Sides, in a shuffled order each round, each switching to the idle colour of the sandbox's blue and
    green (busybox httpd; in this nginx-only sandbox as processes, with Docker as Swarm services) while 8 curls send 5,000 GETs of /version, 625 each on one keep-alive connection paced to last ~2.5 s:
      module   Switch-PuoTraffic -MonitorSec 0 in this warm pwsh (3 health probes, 200-request latency run, write,
               nginx -T, one SIGHUP verified by new workers, 10 confirmation probes); its time is SwitchTime.
      runbook  what switch-traffic.sh does: write the new upstream file and `nginx -s reload`, as one shell script
               (it returns before nginx has switched and checks nothing).
      floor    what any correct switch must do once: write the file, nginx -t, SIGHUP, wait until a new worker exists.
    Failed = curl answers other than 200 (000 = transport error); Retried = GETs curl resent once on a fresh
    connection because a reload closed the reused one before any answer (RFC 9112 9.3.1), reported apart. Then, -Rounds
    times, with a busybox httpd as a third colour ('canary'): Switch-PuoTraffic -To canary -MonitorSec 30, the httpd
    killed as soon as nginx serves it; rollback time = from the kill until the record's RolledBackAt; failed between
    = the record's MonitorFailed (the watch window's own requests through nginx, paced at one per 50 ms); then the same load as above must
    see 0 failed. Uses the sandbox named by -StateFile (default: an
    nginx-only sandbox of its own, stopped afterwards). Run as root after build.ps1 -Task Build.
.EXAMPLE
    flock /tmp/puo-fullsuite.lock dotnet pwsh -NoProfile -File bench/deployment/Switch.bench.ps1
#>
param(
    [string] $StateFile,
    [int] $Rounds = 5
)
$LoadRequests = 5000
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
        # The issue's load: 5,000 GETs at concurrency 8, i.e. 8 curls of 625 GETs each on a keep-alive connection,
        # each paced at 250 a second so that the load lasts about 2.5 s, longer than a switch; one status code per
        # line (000 = transport error). A reload closes idle keep-alive connections; curl then resends the GET once on
        # a fresh connection (RFC 9112 9.3.1) and says so in its verbose log: those retries are counted, not hidden.
        $out = Join-Path $work "load-$(Get-Random)"
        $curl = "curl -sv --rate 250/s --max-time 5 -o /dev/null -w '%{http_code}\n' '${front}?[1-625]' > '$out.{}.codes' 2> '$out.{}.log'"
        $start = [Diagnostics.ProcessStartInfo]::new('bash')
        foreach ($a in '-c', "seq 8 | xargs -P 8 -I{} sh -c `"$curl`"") { $start.ArgumentList.Add($a) }
        $process = [Diagnostics.Process]::Start($start)
        [pscustomobject]@{ Process = $process; Out = $out }
    }
    function Stop-Load($load) {
        # Called right after a switch: the load must still be running, or it did not measure the switch.
        $during = -not $load.Process.HasExited
        $load.Process.WaitForExit()
        $codes = @(Get-Content "$($load.Out).*.codes")
        $retried = @(Select-String -Path "$($load.Out).*.log" -SimpleMatch 'retrying a fresh connect').Count
        Remove-Item "$($load.Out).*"
        if ($codes.Count -ne $LoadRequests) { throw "The load loop answered $($codes.Count) of $LoadRequests requests." }
        [pscustomobject]@{ Failed = @($codes | Where-Object { $_ -ne '200' }).Count; Retried = $retried; During = $during }
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
            $figures = Stop-Load $load
            [pscustomobject]@{ Ms = $record.SwitchTime.TotalMilliseconds; Failed = $figures.Failed; Retried = $figures.Retried; UnderLoad = $figures.During }
        }
        runbook = {
            $target = Get-Idle
            Set-Content (Join-Path $work 'next.conf') (Get-UpstreamText $target) -NoNewline
            $load = Start-Load
            $watch = [Diagnostics.Stopwatch]::StartNew()
            & bash -c "cp '$work/next.conf' '$($ngx.ActiveConf)' && '$($ngx.Binary)' -p '$($ngx.Prefix)' -c '$($ngx.Conf)' -s reload"
            $ms = $watch.Elapsed.TotalMilliseconds
            $figures = Stop-Load $load
            [pscustomobject]@{ Ms = $ms; Failed = $figures.Failed; Retried = $figures.Retried; UnderLoad = $figures.During }
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
            $figures = Stop-Load $load
            [pscustomobject]@{ Ms = $ms; Failed = $figures.Failed; Retried = $figures.Retried; UnderLoad = $figures.During }
        }
    }
    $results = @{}; foreach ($name in $sides.Keys) { $results[$name] = [Collections.Generic.List[object]]::new() }
    for ($round = 1; $round -le $Rounds; $round++) {
        $r = Invoke-BenchRound -Sides ([ordered]@{
                module = { Start-Sleep -Milliseconds 1200; & $sides.module }
                runbook = { Start-Sleep -Milliseconds 1200; & $sides.runbook }
                floor = { Start-Sleep -Milliseconds 1200; & $sides.floor } })
        foreach ($name in $r.Keys) { $results[$name].Add($r[$name]) }
        Write-Host ("round {0}: {1}" -f $round, (($r.Keys | Sort-Object | ForEach-Object { '{0} {1:n0} ms, {2} failed, {3} retried' -f $_, $r[$_].Ms, $r[$_].Failed, $r[$_].Retried }) -join '; '))
    }
    foreach ($name in 'module', 'runbook', 'floor') {
        '{0,-8} median {1,7:n0} ms   failed requests {2} of {3}   retried on a reused connection {4}' -f $name, (Get-Median ($results[$name].Ms)),
            ($results[$name].Failed | Measure-Object -Sum).Sum, ($LoadRequests * $Rounds), ($results[$name].Retried | Measure-Object -Sum).Sum
        if ($results[$name].UnderLoad -contains $false) { Write-Warning "$name`: the load ended before $(@($results[$name].UnderLoad -eq $false).Count) of its switches did." }
    }
    'ratio module/runbook {0:n2}, module/floor {1:n2}' -f ((Get-Median ($results.module.Ms)) / (Get-Median ($results.runbook.Ms))), ((Get-Median ($results.module.Ms)) / (Get-Median ($results.floor.Ms)))

    # Rollback: a third colour served by busybox httpd, killed as soon as nginx serves it. The switch runs in a thread
    # job (so this runspace can watch and kill); environments belong to a runspace, so the job connects its own.
    $busybox = (Get-Command busybox -ErrorAction Ignore)?.Source
    if (-not $busybox) { throw 'rollback: busybox is not installed (apt-get install busybox-static).' }
    $port = Get-Random -Minimum 40000 -Maximum 60000
    $www = New-Item -ItemType Directory (Join-Path $work 'www')
    Set-Content "$www/health" '{"status":"healthy"}'; Set-Content "$www/version" 'canary'
    $colors.canary = "127.0.0.1:$port"
    $switchToCanary = {
        param($Module, $Nginx, $Colors)
        Import-Module $Module
        $null = Connect-PuoEnvironment -Name canary -NginxConfig $Nginx.Conf -NginxPath $Nginx.Binary -TrafficFile $Nginx.ActiveConf -Color $Colors -SkipCheck
        Switch-PuoTraffic -Environment canary -To canary -MonitorSec 30 -MinReloadInterval 0s -Confirm:$false -Verbose -ErrorAction SilentlyContinue -ErrorVariable failure
        # The rollback is also written as an error; anything else means the switch itself failed.
        $failure | Where-Object { $_.FullyQualifiedErrorId -notlike 'PuoOps.Deployment.RolledBack*' } | ForEach-Object { Write-Warning "switch to canary: $_" }
    }
    $rollbacks = foreach ($i in 1..$Rounds) {
        $canary = Start-Process $busybox -ArgumentList 'httpd', '-f', '-p', "127.0.0.1:$port", '-h', $www -PassThru
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        while ((& curl -s --max-time 1 "http://127.0.0.1:$port/version") -ne 'canary') {
            if ([DateTime]::UtcNow -gt $deadline) { throw "busybox httpd on 127.0.0.1:$port did not answer within 10 s." }
            Start-Sleep -Milliseconds 20
        }
        Start-Sleep -Milliseconds 2100   # nginx's reload interval since the previous round's rollback
        $job = Start-ThreadJob $switchToCanary -ArgumentList "$root/out/PuoOps/$version/PuoOps.psd1", $ngx, $colors
        # Kill right after the switch: once it is confirmed and the watch window begins (its verbose line says so).
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while (-not ($job.Verbose | Where-Object Message -like 'Traffic is on canary*')) {
            if ($job.State -in 'Completed', 'Failed', 'Stopped' -or [DateTime]::UtcNow -gt $deadline) { $job | Receive-Job | Out-Host; throw "The switch to canary did not reach its watch window (job $($job.State))." }
            Start-Sleep -Milliseconds 10
        }
        if ((& curl -s --max-time 2 $front) -ne 'canary') { throw 'nginx does not serve canary in the watch window.' }
        $killed = [DateTimeOffset]::Now
        $canary.Kill(); $canary.WaitForExit()
        $record = $job | Wait-Job -Timeout 60 | Receive-Job
        $job | Remove-Job -Force
        if (-not $record.RolledBack) { throw "Round $i`: the switch to the killed canary was not rolled back: $($record | Out-String)" }
        $after = Stop-Load (Start-Load)
        [pscustomobject]@{ Round = $i; RollbackMs = ($record.RolledBackAt - $killed).TotalMilliseconds; FailedBetween = $record.MonitorFailed
            WatchRequests = $record.MonitorRequests; FailedAfter = $after.Failed; RetriedAfter = $after.Retried; Reason = $record.RollbackReason }
    }
    $rollbacks | Format-Table -AutoSize -Wrap | Out-String -Width 200 | Write-Host
    'rollback (-MonitorSec 30) median {0:n0} ms from kill to traffic back (max {1:n0} ms); requests failed between kill and rollback (the watch window''s, MonitorFailed) median {2}, total {3}; after the rollback {4} failed of {5}, {6} retried on a reused connection' -f
        (Get-Median ($rollbacks.RollbackMs)), ($rollbacks.RollbackMs | Measure-Object -Maximum).Maximum, (Get-Median ($rollbacks.FailedBetween)),
        ($rollbacks.FailedBetween | Measure-Object -Sum).Sum, ($rollbacks.FailedAfter | Measure-Object -Sum).Sum, ($LoadRequests * $Rounds), ($rollbacks.RetriedAfter | Measure-Object -Sum).Sum
}
finally {
    if ($canary -and -not $canary.HasExited) { $canary.Kill() }
    try {
        if ((Get-Command Switch-PuoTraffic -ErrorAction Ignore) -and (Get-PuoTrafficState -Environment bench -ErrorAction Ignore).ActiveColor -ne 'blue') {
            $null = Switch-PuoTraffic -Environment bench -To blue -MonitorSec 0 -AnalysisRequests 0 -Confirm:$false -ErrorAction Ignore
        }
    }
    catch { Write-Warning "Could not switch the bench's nginx back to blue: $_" }   # the clean-up below must still run
    Remove-Item $work -Recurse -Force -ErrorAction Ignore
    if ($ownSandbox) {
        Stop-BenchSandbox $StateFile
        Remove-Item $StateFile -ErrorAction Ignore
    }
}
