#Requires -Version 7.4
<#
.SYNOPSIS
    Search-PuoLog -SlowerThan 1s vs the runbook's grep -E "duration.*[0-9]{4,}" (and ripgrep, zgrep) on a 1 GB log.
.DESCRIPTION
    Issue targets: at most 1.0x grep, at most 1.5x ripgrep with the same regex, the same matches as grep, pwsh peak
    memory under 200 MB; on the same log gzipped, at most 1.2x zgrep.

    Data: a performance log of -SizeMB (default 1024) with about 0.5 % slow lines, written deterministically into a
    temp directory with its gzip copy, both deleted at the end. Every line has the word duration, so grep runs its
    regex on every line; only the durations have four digits or more after it, so grep's matches are exactly the
    lines of one second or more and the two must agree (checked before timing, line numbers compared).

    Timing (warm cache: every file is read once before): each round runs every command once, in a random order:
    - Search-PuoLog in this warm pwsh session (module imported, JIT warm), output discarded with $null = ...;
    - the same as a whole new process, dotnet pwsh.dll -NoProfile -c "Import-Module ...; $null = Search-PuoLog ...",
      which also reports the process's peak memory (VmHWM);
    - grep, rg and zgrep through /bin/sh, output to a file (grep stops at the first match if it writes to /dev/null);
    - the floors: cat file > /dev/null, and a plain .NET read loop of 1 MiB reads in this session; and the
      process floor, pwsh -c "Import-Module ...; 1".
    Printed: medians over -Rounds and the median of the per-round ratios (range in brackets).
    Run after `dotnet pwsh ./build.ps1 -Task Build`, under the suite's lock:
.EXAMPLE
    flock /tmp/puo-fullsuite.lock dotnet pwsh -NoProfile -File bench/logs/SearchLog.bench.ps1 -Rounds 5
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
foreach ($tool in 'grep', 'rg', 'zgrep') {
    if (-not (Get-Command $tool -ErrorAction SilentlyContinue)) { throw "$tool is missing (apt-get install ripgrep for rg)." }
}
$loadBefore = Get-LoadAverage
$dir = [IO.Directory]::CreateTempSubdirectory('puo-bench-searchlog-').FullName
try {
    $log = Join-Path $dir 'performance_metrics.log'
    $gz = "$log.gz"
    $slow = [PuoBenchLogs]::WritePerformanceLog($log, $SizeMB * 1MB, 0.005, 15)
    [PuoBenchLogs]::Gzip($log, $gz)
    $out = Join-Path $dir 'out.txt'
    $regex = 'duration.*[0-9]{4,}'

    # Same matches: line numbers of grep -n (and zgrep -n) against Search-PuoLog's, plain and gzip.
    $null = & /bin/sh -c "grep -n -E '$regex' '$log' | cut -d: -f1 > '$dir/grep.lines'; zgrep -n -E '$regex' '$gz' | cut -d: -f1 > '$dir/zgrep.lines'"
    Search-PuoLog -Path $log -SlowerThan 1s | ForEach-Object LineNumber | Set-Content "$dir/module.lines"
    Search-PuoLog -Path $gz -SlowerThan 1s | ForEach-Object LineNumber | Set-Content "$dir/module-gz.lines"
    $grepLines = Get-Content "$dir/grep.lines"
    $same = (Compare-Object $grepLines (Get-Content "$dir/module.lines") -SyncWindow 0 | Measure-Object).Count -eq 0 -and
        (Compare-Object (Get-Content "$dir/zgrep.lines") (Get-Content "$dir/module-gz.lines") -SyncWindow 0 | Measure-Object).Count -eq 0
    $rgCount = [long](& rg -c $regex $log)
    if (-not $same -or $rgCount -ne $grepLines.Count) { throw "The matches differ: grep $($grepLines.Count), rg $rgCount; see $dir." }

    $null = & /bin/sh -c "cat '$log' '$gz' > /dev/null"   # warm cache
    $commands = [ordered]@{
        'Search-PuoLog (warm session)'      = { Measure-Block { $null = Search-PuoLog -Path $log -SlowerThan 1s } }
        'Search-PuoLog (pwsh -c process)'   = { Measure-Pwsh $manifest "`$null = Search-PuoLog -Path '$log' -SlowerThan 1s" }
        'grep -E'                           = { Measure-Shell "grep -E '$regex' '$log' > '$out'" }
        'rg'                                = { Measure-Shell "rg '$regex' '$log' > '$out'" }
        'Search-PuoLog .gz (warm session)'  = { Measure-Block { $null = Search-PuoLog -Path $gz -SlowerThan 1s } }
        'Search-PuoLog .gz (pwsh -c process)' = { Measure-Pwsh $manifest "`$null = Search-PuoLog -Path '$gz' -SlowerThan 1s" }
        'zgrep -E'                          = { Measure-Shell "zgrep -E '$regex' '$gz' > '$out'" }
    }
    Add-FloorCommands $commands $log $manifest
    $report = [ordered]@{
        Data = '{0:N0} MB, {1:N0} slow lines (grep, rg and Search-PuoLog agree: {2})' -f ((Get-Item $log).Length / 1MB), $slow, $grepLines.Count
        Gzip = '{0:N0} MB' -f ((Get-Item $gz).Length / 1MB)
        Rounds = $Rounds
    }
    $times = Invoke-BenchRounds $commands $Rounds $report
    $warm = $times['Search-PuoLog (warm session)']; $process = $times['Search-PuoLog (pwsh -c process)']
    $report['Ratio warm / grep (target <= 1.0)'] = Format-Ratio $warm $times['grep -E']
    $report['Ratio process / grep'] = Format-Ratio $process $times['grep -E']
    $report['Ratio warm / rg (target <= 1.5)'] = Format-Ratio $warm $times['rg']
    $report['Ratio process / rg'] = Format-Ratio $process $times['rg']
    $report['Ratio .gz warm / zgrep (target <= 1.2)'] = Format-Ratio $times['Search-PuoLog .gz (warm session)'] $times['zgrep -E']
    $report['Ratio .gz process / zgrep'] = Format-Ratio $times['Search-PuoLog .gz (pwsh -c process)'] $times['zgrep -E']
    $report['Load average before / after'] = "$loadBefore / $(Get-LoadAverage)"
    [pscustomobject]$report | Format-List | Out-String -Width 160
}
finally {
    Remove-Item $dir -Recurse -Force
}
