#Requires -Version 7.4
<#
.SYNOPSIS
    Get-PuoSlowQuery called 100 times in one pwsh session vs 100 runs of the runbook's psql command.
.DESCRIPTION
    Issue target: at least 20x faster. Both sides run in this same process, several rounds, each round in a random order;
    the medians and the ratio are printed. Uses the sandbox named by -StateFile (default: starts a small
    one of its own and stops it afterwards). Run after `dotnet pwsh ./build.ps1 -Task Build`.
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/foundation/SlowQuery.bench.ps1
#>
param(
    [string] $StateFile,
    [int] $Calls = 100,
    [int] $Rounds = 5
)
$ErrorActionPreference = 'Stop'
$root = Resolve-Path "$PSScriptRoot/../.."
Import-Module "$PSScriptRoot/../BenchTools.psm1" -Force
$version = (Import-PowerShellDataFile "$root/PuoOps.psd1").ModuleVersion
$ownSandbox = -not $StateFile
if ($ownSandbox) { $StateFile = Start-BenchSandbox -Name slowquery -Arguments '-Services', 'Postgres', '-MemoryRows', '1000' }
try {
    $pg = (Get-Content $StateFile -Raw | ConvertFrom-Json).Postgres
    Import-Module "$root/out/PuoOps/$version/PuoOps.psd1"
    Connect-PuoEnvironment -Name bench -PostgresConnectionString $pg.ConnectionString
    $psql = Join-Path $pg.BinDir 'psql'
    # The runbook's own query, as an operator would type it.
    $sql = "SELECT pid, now() - pg_stat_activity.query_start AS duration, query FROM pg_stat_activity WHERE (now() - pg_stat_activity.query_start) > interval '5 seconds';"
    $env:PGPASSWORD = $pg.Password
    $null = Get-PuoSlowQuery; $null = & $psql -h $pg.Host -p $pg.Port -U $pg.User -d $pg.Database -c $sql   # warm-up

    $module = @(); $runbook = @()
    foreach ($round in 1..$Rounds) {
        $t = Invoke-BenchRound ([ordered]@{
                Module  = { (Measure-Command { foreach ($i in 1..$Calls) { $null = Get-PuoSlowQuery -MinimumDuration 00:00:05 } }).TotalMilliseconds }
                Runbook = { (Measure-Command { foreach ($i in 1..$Calls) { $null = & $psql -h $pg.Host -p $pg.Port -U $pg.User -d $pg.Database -c $sql } }).TotalMilliseconds }
            })
        $module += $t.Module; $runbook += $t.Runbook
    }
    $ratios = for ($i = 0; $i -lt $Rounds; $i++) { $runbook[$i] / $module[$i] }
    [pscustomobject]@{
        Benchmark          = "$Calls calls, $Rounds rounds"
        'Get-PuoSlowQuery ms (median)' = [math]::Round((Get-Median $module), 1)
        'psql ms (median)'             = [math]::Round((Get-Median $runbook), 1)
        'Speed-up (median of pairs)'   = [math]::Round((Get-Median $ratios), 1)
        'Speed-up min..max'            = '{0:N1}..{1:N1}' -f ($ratios | Measure-Object -Minimum).Minimum, ($ratios | Measure-Object -Maximum).Maximum
        Target             = '>= 20x'
    } | Format-List
}
finally {
    Remove-Item Env:PGPASSWORD -ErrorAction Ignore
    if ($ownSandbox) { Stop-BenchSandbox $StateFile }
}
