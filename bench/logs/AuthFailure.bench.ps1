#Requires -Version 7.4
<#
.SYNOPSIS
    Find-PuoAuthFailure vs grep -E '" (401|403) ' access.log | awk '{print $1}' | sort | uniq -c | sort -rn on 1 GB.
.DESCRIPTION
    Issue targets: at least 3x faster than the pipeline, the same per-address counts, pwsh peak memory under 200 MB.

    Data: an nginx combined access log of -SizeMB (default 1024), about 2 % of its lines 401 or 403 from 5,000
    addresses (a quarter IPv6), the rest from 20,000 others; written deterministically into a temp directory and
    deleted at the end. Before timing, the pipeline's "count address" lines are compared with Find-PuoAuthFailure's
    Count and IpAddress for every address.

    Timing (warm cache): each round runs every command once, in a random order:
    - Find-PuoAuthFailure in this warm pwsh session (module imported, JIT warm), its 5,000 objects kept in a variable;
    - the same as a whole new process, dotnet pwsh.dll -NoProfile -c "Import-Module ...; $r = Find-PuoAuthFailure ...",
      which also reports the process's peak memory (VmHWM);
    - the runbook's pipeline through /bin/sh, output to a file;
    - the floors: cat file > /dev/null, a plain .NET read loop of 1 MiB reads in this session, and the process
      floor, pwsh -c "Import-Module ...; 1".
    Printed: medians over -Rounds and the median of the per-round ratios (range in brackets).
    Run after `dotnet pwsh ./build.ps1 -Task Build`, under the suite's lock:
.EXAMPLE
    flock /tmp/puo-fullsuite.lock dotnet pwsh -NoProfile -File bench/logs/AuthFailure.bench.ps1 -Rounds 5
#>
param(
    [int] $SizeMB = 1024,
    [int] $Rounds = 5
)
$ErrorActionPreference = 'Stop'
$root = Resolve-Path "$PSScriptRoot/../.."
$version = (Import-PowerShellDataFile "$root/PuoOps.psd1").ModuleVersion
$manifest = "$root/out/PuoOps/$version/PuoOps.psd1"
Import-Module "$PSScriptRoot/BenchLogs.psm1" -Force
Import-Module $manifest
$loadBefore = Get-LoadAverage
$dir = [IO.Directory]::CreateTempSubdirectory('puo-bench-authfailure-').FullName
try {
    $log = Join-Path $dir 'access.log'
    $failures = [PuoBenchLogs]::WriteAccessLog($log, $SizeMB * 1MB, 0.02, 17)
    $out = Join-Path $dir 'out.txt'
    $pipeline = "grep -E '`" (401|403) ' '$log' | awk '{print `$1}' | sort | uniq -c | sort -rn > '$out'"

    # Same counts: every "count address" line of the pipeline against Find-PuoAuthFailure's objects.
    $null = Measure-Shell $pipeline
    $expected = Get-Content $out | ForEach-Object { $count, $address = -split $_; "$address $count" } | Sort-Object
    $found = Find-PuoAuthFailure -Path $log
    $actual = $found | ForEach-Object { "$($_.IpAddress) $($_.Count)" } | Sort-Object
    if ((Compare-Object $expected $actual -SyncWindow 0 | Measure-Object).Count -ne 0) { throw "The per-address counts differ; see $dir." }
    $ipv6 = @($found | Where-Object IpAddress -like '*:*').Count

    $null = & /bin/sh -c "cat '$log' > /dev/null"   # warm cache
    $commands = [ordered]@{
        'Find-PuoAuthFailure (warm session)'    = { Measure-Block { $r = Find-PuoAuthFailure -Path $log } }
        'Find-PuoAuthFailure (pwsh -c process)' = { Measure-Pwsh $manifest "`$r = Find-PuoAuthFailure -Path '$log'" }
        'grep | awk | sort | uniq -c | sort -rn' = { Measure-Shell $pipeline }
    }
    Add-FloorCommands $commands $log $manifest
    $report = [ordered]@{
        Data   = '{0:N0} MB, {1:N0} 401/403 lines from {2:N0} addresses ({3:N0} IPv6); pipeline and Find-PuoAuthFailure agree on every count' -f ((Get-Item $log).Length / 1MB), $failures, $found.Count, $ipv6
        Rounds = $Rounds
    }
    $times = Invoke-BenchRounds $commands $Rounds $report
    $pipe = $times['grep | awk | sort | uniq -c | sort -rn']
    $report['Speed-up warm (pipeline / cmdlet, target >= 3)'] = Format-Ratio $pipe $times['Find-PuoAuthFailure (warm session)']
    $report['Speed-up process (pipeline / cmdlet)'] = Format-Ratio $pipe $times['Find-PuoAuthFailure (pwsh -c process)']
    $report['Load average before / after'] = "$loadBefore / $(Get-LoadAverage)"
    [pscustomobject]$report | Format-List | Out-String -Width 160
}
finally {
    Remove-Item $dir -Recurse -Force
}
