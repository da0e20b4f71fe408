#Requires -Version 7.4
<#
.SYNOPSIS
    Restore-PuoBackup -Jobs 2 (with its verification and swap) vs the runbook's single-job pg_restore, of the
    same directory-format backup.
.DESCRIPTION
    Issue target: at least 1.3x faster. PuoOps' side includes everything it does: checksum and
    pg_restore --list, createdb, pg_restore --jobs 2 (its sessions tuned: maintenance_work_mem 256MB, no
    parallel workers within a job), row counts and alembic check, sanity query, rename.
    The raw side is createdb + pg_restore (one job); a third, pg_restore --jobs 2 with nothing verified, shows
    the most any two-job restore can gain on this machine. Both raw sides run with the same server settings as
    the module's pg_restore sessions (the same PGOPTIONS), so the comparison is of the jobs and the checks, not
    of the tuning. Each round runs the three in a random order. All restore into a new database that is dropped
    afterwards (not timed). Uses the sandbox named by -StateFile, else starts its own and stops it.
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/backup/Restore.bench.ps1 -SizeMB 512 -Rounds 3
#>
param(
    [string] $StateFile,
    [int] $SizeMB = 512,
    [int] $Rounds = 3
)
$ErrorActionPreference = 'Stop'
$root = Resolve-Path "$PSScriptRoot/../.."
Import-Module "$PSScriptRoot/BenchDatabase.psm1" -Force
Import-Module "$PSScriptRoot/../BenchTools.psm1" -Force
$sandbox = Start-BenchSandbox $root $StateFile
$pg = (Get-Content $sandbox.StateFile -Raw | ConvertFrom-Json).Postgres
$db = "puo_bench_$(Get-Random)"
$dir = Join-Path ([IO.Path]::GetTempPath()) "puo-bench-restore-$PID"
try {
    $size = Initialize-BenchDatabase $root $pg $db $SizeMB
    $backup = Backup-PuoDatabase -Path $dir -Format Directory -Jobs 2
    $pgRestore = Join-Path $pg.BinDir 'pg_restore'

    # What Restore-PuoBackup -Jobs 2 gives its pg_restore sessions (BackupVerifier.RestoreMaintenanceWorkMem, and no
    # parallel workers within a job): the raw sides get the same, so only the jobs and the checks differ.
    $serverSettings = '-c maintenance_work_mem=256MB -c max_parallel_maintenance_workers=0'
    function Restore-Raw([string] $Target, [string[]] $Extra) {
        (Measure-Command {
            Invoke-BenchPsql $pg "CREATE DATABASE $Target TEMPLATE template0"
            $env:PGPASSWORD = $pg.Password
            $env:PGOPTIONS = $serverSettings
            try { & $pgRestore -h $pg.Host -p $pg.Port -U $pg.User -d $Target @Extra $backup.Path }
            finally { Remove-Item Env:PGOPTIONS }
            if ($LASTEXITCODE) { throw "pg_restore $Extra failed" }
        }).TotalSeconds
        $null = Remove-BenchDatabase $pg $Target
    }
    $module = @(); $raw = @(); $rawJobs = @()
    foreach ($round in 1..$Rounds) {
        $t = Invoke-BenchRound ([ordered]@{
                Module  = {
                    (Measure-Command {
                        $result = Restore-PuoBackup -Path $backup.Path -Database "${db}_puo$round" -Jobs 2 -Confirm:$false
                        if (-not $result.Verified) { throw 'Restore-PuoBackup did not verify.' }
                    }).TotalSeconds
                    $null = Remove-BenchDatabase $pg "${db}_puo$round"
                }
                Raw     = { Restore-Raw "${db}_raw$round" @() }
                # The ceiling for any -Jobs 2 restore here: pg_restore --jobs 2 by itself, nothing verified.
                RawJobs = { Restore-Raw "${db}_jobs$round" @('--jobs', '2') }
            })
        $module += $t.Module; $raw += $t.Raw; $rawJobs += $t.RawJobs
        Write-Host ("round {0}: Restore-PuoBackup -Jobs 2 {1:N1} s, pg_restore {2:N1} s, pg_restore --jobs 2 {3:N1} s, load {4}" -f $round, $module[-1], $raw[-1], $rawJobs[-1], (Get-Content /proc/loadavg).Split(' ')[0])
    }
    $speedups = for ($i = 0; $i -lt $Rounds; $i++) { $raw[$i] / $module[$i] }
    [pscustomobject]@{
        Benchmark                                  = "$Rounds rounds, database $([math]::Round($size / 1MB)) MB, backup $([math]::Round($backup.SizeBytes / 1MB)) MB"
        'Restore-PuoBackup -Jobs 2 (verified) s'   = [math]::Round((Get-Median $module), 2)
        'createdb + pg_restore (1 job) s'          = [math]::Round((Get-Median $raw), 2)
        'Speed-up (median of pairs)'               = [math]::Round((Get-Median $speedups), 2)
        'Speed-up min..max'                        = '{0:N2}..{1:N2}' -f ($speedups | Measure-Object -Minimum).Minimum, ($speedups | Measure-Object -Maximum).Maximum
        Target                                     = '>= 1.3x'
        'pg_restore --jobs 2 alone: speed-up'      = [math]::Round((Get-Median (0..($Rounds - 1) | ForEach-Object { $raw[$_] / $rawJobs[$_] })), 2)
    } | Format-List
}
finally {
    Remove-Item Env:PGPASSWORD -ErrorAction Ignore
    Remove-Item $dir -Recurse -Force -ErrorAction Ignore
    Remove-BenchDatabase $pg $db
    Stop-BenchSandbox $root $sandbox
}
