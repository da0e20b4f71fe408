#Requires -Version 7.4
<#
.SYNOPSIS
    Backup-PuoDatabase + Test-PuoBackup vs the runbook's pg_dump -Fc + pg_restore --list, on a ~1 GB database.
.DESCRIPTION
    Issue target: at most 1.05x the raw commands' time. Both sides run in the same session, in a random order each round,
    -Rounds times; medians and the ratio are printed, with each PuoOps round's per-phase timings (from
    Verbose). PuoOps also writes the manifest (row counts in the dump's snapshot, counted on one core
    beside pg_dump's first seconds; the SHA-256 of the file and the SHA-512 of each 32 MiB chunk, computed while
    the dump streams to disk) and Test-PuoBackup reads the file again to check every chunk, on all cores
    at once.
    Uses the sandbox named by -StateFile, else starts its own (Postgres only) and stops it. Run after
    `dotnet pwsh ./build.ps1 -Task Build`.
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/backup/Backup.bench.ps1 -SizeMB 1024 -Rounds 3
#>
param(
    [string] $StateFile,
    [int] $SizeMB = 1024,
    [int] $Rounds = 3
)
$ErrorActionPreference = 'Stop'
$root = Resolve-Path "$PSScriptRoot/../.."
Import-Module "$PSScriptRoot/BenchDatabase.psm1" -Force
Import-Module "$PSScriptRoot/../BenchTools.psm1" -Force
$ownSandbox = -not $StateFile
if ($ownSandbox) { $StateFile = Start-BenchSandbox -Name backup -Arguments '-Services', 'Postgres', '-MemoryRows', '1000' }
$pg = (Get-Content $StateFile -Raw | ConvertFrom-Json).Postgres
$db = "puo_bench_$(Get-Random)"
$dir = Join-Path ([IO.Path]::GetTempPath()) "puo-bench-backup-$PID"
try {
    $size = Initialize-BenchDatabase $root $pg $db $SizeMB
    $pgDump = Join-Path $pg.BinDir 'pg_dump'; $pgRestore = Join-Path $pg.BinDir 'pg_restore'
    $null = New-Item -ItemType Directory -Path $dir -Force

    $puo = {
        # Verbose carries each cmdlet's per-phase timings (a few lines): kept to print with the figures.
        $out = & { Backup-PuoDatabase -Path $dir -Verbose | Test-PuoBackup -Verbose } 4>&1
        $script:phases = @($out | Where-Object { $_ -is [Management.Automation.VerboseRecord] -and $_.Message -like 'Timings:*' } | ForEach-Object Message)
        $test = $out | Where-Object { $_ -isnot [Management.Automation.VerboseRecord] }
        if ($test.Status -ne 'OK') { throw "Test-PuoBackup: $($test.Message)" }
    }
    $runbook = {
        $env:PGPASSWORD = $pg.Password
        & $pgDump -Fc -h $pg.Host -p $pg.Port -U $pg.User -d $db -f "$dir/raw.dump"
        if ($LASTEXITCODE) { throw 'pg_dump failed' }
        & $pgRestore --list "$dir/raw.dump" > $null
        if ($LASTEXITCODE) { throw 'pg_restore --list failed' }
    }
    $module = @(); $raw = @()
    foreach ($round in 1..$Rounds) {
        # A random order each round, so neither side always meets the colder cache.
        $t = Invoke-BenchRound ([ordered]@{
                Puo = { (Measure-Command $puo).TotalSeconds; Get-ChildItem $dir | Remove-Item -Recurse -Force }
                Raw = { (Measure-Command $runbook).TotalSeconds; Get-ChildItem $dir | Remove-Item -Recurse -Force }
            })
        $module += $t.Puo; $raw += $t.Raw
        Write-Host ("round {0}: PuoOps {1:N1} s, raw {2:N1} s, load {3}" -f $round, $module[-1], $raw[-1], ((Get-Content /proc/loadavg) -split ' ')[0])
        $phases | ForEach-Object { Write-Host "  $_" }
    }
    $ratios = for ($i = 0; $i -lt $Rounds; $i++) { $module[$i] / $raw[$i] }
    [pscustomobject]@{
        Benchmark                                 = "$Rounds rounds, database $([math]::Round($size / 1MB)) MB"
        'Backup-PuoDatabase | Test-PuoBackup s'   = [math]::Round((Get-Median $module), 2)
        'pg_dump -Fc + pg_restore --list s'       = [math]::Round((Get-Median $raw), 2)
        'Ratio PuoOps/raw (median of pairs)'      = [math]::Round((Get-Median $ratios), 3)
        'Ratio min..max'                          = '{0:N3}..{1:N3}' -f ($ratios | Measure-Object -Minimum).Minimum, ($ratios | Measure-Object -Maximum).Maximum
        Target                                    = '<= 1.05x'
    } | Format-List
}
finally {
    Remove-Item Env:PGPASSWORD -ErrorAction Ignore
    Remove-Item $dir -Recurse -Force -ErrorAction Ignore
    Remove-BenchDatabase $pg $db
    if ($ownSandbox) { Stop-BenchSandbox $StateFile }
}
