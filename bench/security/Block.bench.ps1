#Requires -Version 7.4
<#
.SYNOPSIS
    Block-PuoIpAddress with 1,000 addresses from one pipeline vs the runbook's `iptables -A INPUT -s IP -j DROP` per address.
.DESCRIPTION
    Issue target: exactly one nginx reload for the whole pipeline and under 2 s end to end; then a probe from a blocked
    loopback source (curl --interface 127.0.0.77) gets 403 and one from an unblocked source (127.0.0.78) gets 200.
    Sides, in a shuffled order each round, each after a pause of 1.2 s (so no side waits for the minimum reload interval
    left by the one before):
      module        1,000 addresses (999 of 198.18.0.0/15 and 127.0.0.77, hence -Force) piped into Block-PuoIpAddress
                    in this warm pwsh; reloads counted from the nginx error log (notice level logs each SIGHUP).
      module+checks 1,000 addresses of 198.18.0.0/15 without -Force: the lock-out checks run (nginx -T, interfaces).
      runbook       the runbook's command once per address, `iptables -A INPUT -s <ip> -j DROP`, in a network namespace
                    of the bench's own (never the host's tables), as one shell loop.
      floor         what any correct tool must do once: copy the finished list into place, nginx -t, SIGHUP the master
                    and wait until a new worker exists, as one shell script.
    Between rounds the list is emptied again with Unblock-PuoIpAddress (its time is reported too) and the namespace's
    INPUT chain flushed. Uses the sandbox named by -StateFile (default: starts an nginx-only sandbox of its own and stops
    it afterwards). Run as root after `dotnet pwsh ./build.ps1 -Task Build`.
.EXAMPLE
    flock /tmp/puo-fullsuite.lock dotnet pwsh -NoProfile -File bench/security/Block.bench.ps1
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
if ($ownSandbox) { $StateFile = Start-BenchSandbox -Name block -Arguments '-Services', 'Nginx' }
$ngx = (Get-Content $StateFile -Raw | ConvertFrom-Json).Nginx
$namespace = "puo-bench-$PID"
$work = Join-Path ([IO.Path]::GetTempPath()) "puo-bench-block-$PID"
try {
    $null = New-Item -ItemType Directory $work
    & ip netns add $namespace
    if ($LASTEXITCODE) { throw "ip netns add failed (the bench needs root and iproute2)." }
    Import-Module "$root/out/PuoOps/$version/PuoOps.psd1"
    $null = Connect-PuoEnvironment -Name bench -NginxConfig $ngx.Conf -NginxPath $ngx.Binary -SkipCheck

    $testNet = @(0..998 | ForEach-Object { "198.18.$([math]::Floor($_ / 250)).$(1 + $_ % 250)" })
    $withProbe = $testNet + '127.0.0.77'
    $withoutProbe = $testNet + '198.18.9.1'
    Set-Content (Join-Path $work 'ips') $withProbe
    $master = [int](Get-Content $ngx.PidFile)
    $reloads = { @(Select-String -LiteralPath $ngx.ErrorLog -SimpleMatch 'signal 1 (SIGHUP) received').Count }
    $status = { param($source) [int](& curl -s -o /dev/null -w '%{http_code}' --max-time 5 --interface $source "http://127.0.0.1:$($ngx.Port)/health") }

    # The floor's finished list: what the module writes for the same addresses, prepared once outside the timing.
    $null = $withProbe | Block-PuoIpAddress -Reason bench -Force -Confirm:$false
    Copy-Item $ngx.BlockList (Join-Path $work 'full.conf')
    $null = Get-PuoBlockedIpAddress | Unblock-PuoIpAddress -Confirm:$false
    $floorScript = @"
cp '$work/full.conf' '$($ngx.BlockList)' &&
nginx -t -q -e '$($ngx.ErrorLog)' -p '$($ngx.Prefix)' -c '$($ngx.Conf)' &&
old=`$(cat /proc/$master/task/$master/children) && kill -HUP $master &&
while [ "`$(cat /proc/$master/task/$master/children)" = "`$old" ]; do sleep 0.005; done
"@
    $runbookScript = "while read ip; do iptables -A INPUT -s `"`$ip`" -j DROP || exit 1; done < '$work/ips'"

    # Empties the list again through the module (one more batch, one more reload) and returns how long that took.
    $unblock = {
        Start-Sleep -Milliseconds 1200
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $null = Get-PuoBlockedIpAddress | Unblock-PuoIpAddress -Confirm:$false
        $watch.Elapsed.TotalMilliseconds
    }
    $sides = @{
        module          = {
            Start-Sleep -Milliseconds 1200
            $before = & $reloads
            $watch = [Diagnostics.Stopwatch]::StartNew()
            $result = $withProbe | Block-PuoIpAddress -Reason 'bench' -Force -Confirm:$false
            $ms = $watch.Elapsed.TotalMilliseconds
            if (@($result | Where-Object Action -EQ 'Blocked').Count -ne 1000) { throw "Block-PuoIpAddress blocked $(@($result).Count) addresses, not 1000." }
            @{ Ms = $ms; Reloads = (& $reloads) - $before; Probe = "$(& $status 127.0.0.77)/$(& $status 127.0.0.78)"; UnblockMs = & $unblock }
        }
        'module+checks' = {
            Start-Sleep -Milliseconds 1200
            $watch = [Diagnostics.Stopwatch]::StartNew()
            $result = $withoutProbe | Block-PuoIpAddress -Reason 'bench' -Confirm:$false
            $ms = $watch.Elapsed.TotalMilliseconds
            if (@($result).Count -ne 1000) { throw "Block-PuoIpAddress without -Force returned $(@($result).Count) results, not 1000." }
            @{ Ms = $ms; UnblockMs = & $unblock }
        }
        runbook         = {
            Start-Sleep -Milliseconds 1200
            $watch = [Diagnostics.Stopwatch]::StartNew()
            & ip netns exec $namespace /bin/sh -c $runbookScript
            $ms = $watch.Elapsed.TotalMilliseconds
            if ($LASTEXITCODE) { throw 'The iptables loop failed.' }
            & ip netns exec $namespace iptables -F INPUT
            @{ Ms = $ms }
        }
        floor           = {
            Start-Sleep -Milliseconds 1200
            $watch = [Diagnostics.Stopwatch]::StartNew()
            & /bin/sh -c $floorScript
            $ms = $watch.Elapsed.TotalMilliseconds
            if ($LASTEXITCODE) { throw 'The floor script failed.' }
            @{ Ms = $ms; UnblockMs = & $unblock }
        }
    }
    $times = @{ module = @(); 'module+checks' = @(); runbook = @(); floor = @(); unblock = @() }
    $reloadCounts = @(); $probes = @()
    foreach ($round in 1..$Rounds) {
        $run = Invoke-BenchRound $sides
        foreach ($side in $run.Keys) {
            $times[$side] += $run[$side].Ms
            if ($run[$side].UnblockMs) { $times.unblock += $run[$side].UnblockMs }
        }
        $reloadCounts += $run.module.Reloads
        $probes += $run.module.Probe
    }

    $ratios = for ($i = 0; $i -lt $Rounds; $i++) { $times.module[$i] / $times.runbook[$i] }
    [pscustomobject][ordered]@{
        Benchmark                                   = "1,000 addresses from one pipeline, $Rounds rounds, sides shuffled"
        'Block-PuoIpAddress -Force ms (median)'     = [math]::Round((Get-Median $times.module), 1)
        'Block-PuoIpAddress ms, min..max'           = '{0:N1}..{1:N1}' -f ($times.module | Measure-Object -Minimum).Minimum, ($times.module | Measure-Object -Maximum).Maximum
        'Block-PuoIpAddress with checks ms (median)' = [math]::Round((Get-Median $times.'module+checks'), 1)
        'Runbook iptables x1000 ms (median)'        = [math]::Round((Get-Median $times.runbook), 1)
        'Ratio module/runbook (median of pairs)'    = [math]::Round((Get-Median $ratios), 3)
        'Floor: cp + nginx -t + HUP + new worker ms' = [math]::Round((Get-Median $times.floor), 1)
        'Unblock-PuoIpAddress x1000 ms (median)'    = [math]::Round((Get-Median $times.unblock), 1)
        'Reloads per Block pipeline'                = $reloadCounts -join ','
        'Probe 127.0.0.77 / 127.0.0.78 after block' = $probes -join ','
        Target                                      = 'exactly 1 reload, < 2000 ms, 403/200'
    } | Format-List
}
finally {
    & ip netns delete $namespace 2>$null
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
    if ($ownSandbox) { Stop-BenchSandbox $StateFile }
}
