#Requires -Version 7.4
<#
.SYNOPSIS
    Restore-PuoBackup -Jobs 2 (checksum, restore into a scratch database, verification, swap) vs pg_restore --jobs 2
    alone, of the same directory-format backup, in the same run.
.DESCRIPTION
    Issue target: Restore-PuoBackup -Jobs 2 within 1.05x of createdb + pg_restore --jobs 2 alone (the median of the
    per-round ratios). PuoOps' side is everything it does: orphan check, pg_restore --list, the checksum of every
    chunk beside pg_restore --jobs 2 into a scratch database, the row counts (each table as soon as pg_restore is done
    with it), alembic check, sanity query and the swap by renaming. Three sides, each round in a random order
    (bench/BenchTools.psm1):
    - puo:   Restore-PuoBackup -Jobs 2 -Confirm:$false;
    - raw:   createdb + pg_restore --jobs 2, the runbook's command, nothing verified;
    - floor: the same with the session setting PuoOps gives pg_restore's jobs (no parallel workers within a job,
             the same PGOPTIONS): what any verified two-job restore of PuoOps takes at least, so puo/floor is the
             cost of the checks alone, not of the setting.
    Each side restores into a new database, dropped afterwards (not timed), and starts with the backup's files
    dropped from the page cache, as a restore of last night's backup reads them from disk. Each round also times
    the checksum and pg_restore --list alone (Test-PuoBackup without -Restore): the work that ran before pg_restore
    until the checksum moved beside it.
    Every -SizeMB is seeded, backed up, measured and dropped in turn, so one size's data is gone before the next
    one's is made. Uses the sandbox named by -StateFile, else starts its own (Postgres only) and stops it.
    Run after `dotnet pwsh ./build.ps1 -Task Build`.
.EXAMPLE
    dotnet pwsh -NoProfile -Command './bench/backup/Restore.bench.ps1 -SizeMB 512, 2150 -Rounds 3'
    About 488 MB and 2 GB databases; three rounds of each side for each. (With -File, "512,2150" would reach
    -SizeMB as one string; ValidateRange refuses what that becomes.)
#>
param(
    [string] $StateFile,
    [ValidateRange(16, 65536)]
    [int[]] $SizeMB = 512,
    [ValidateRange(1, 9)]
    [int] $Rounds = 3
)
$ErrorActionPreference = 'Stop'
$root = Resolve-Path "$PSScriptRoot/../.."
Import-Module "$PSScriptRoot/BenchDatabase.psm1" -Force
Import-Module "$PSScriptRoot/../BenchTools.psm1" -Force
$ownSandbox = -not $StateFile
if ($ownSandbox) { $StateFile = Start-BenchSandbox -Name restore -Arguments '-Services', 'Postgres', '-MemoryRows', '1000' }
$pg = (Get-Content $StateFile -Raw | ConvertFrom-Json).Postgres
$pgRestore = Join-Path $pg.BinDir 'pg_restore'
try {
    foreach ($mb in $SizeMB) {
        $db = "puo_bench_$(Get-Random)"
        $dir = Join-Path ([IO.Path]::GetTempPath()) "puo-bench-restore-$PID"
        try {
            $size = Initialize-BenchDatabase $root $pg $db $mb
            $backup = Backup-PuoDatabase -Environment bench -Path $dir -Format Directory -Jobs 2
            # Seeding and the backup leave dirty pages and a busy disk behind: let them settle before timing.
            Invoke-BenchPsql $pg 'CHECKPOINT'
            function Invoke-RawRestore([string] $Target, [string] $Options) {
                Invoke-BenchPsql $pg "CREATE DATABASE $Target TEMPLATE template0"
                $env:PGPASSWORD = $pg.Password
                $env:PGOPTIONS = $Options
                try { & $pgRestore -h $pg.Host -p $pg.Port -U $pg.User -d $Target --jobs 2 $backup.Path }
                finally { Remove-Item Env:PGOPTIONS -ErrorAction Ignore }
                if ($LASTEXITCODE) { throw 'pg_restore --jobs 2 failed' }
            }
            $sides = [ordered]@{
                puo   = {
                    param($target)
                    $result = Restore-PuoBackup -Environment bench -Path $backup.Path -Database $target -Jobs 2 -Confirm:$false
                    if (-not $result.Verified) { throw 'Restore-PuoBackup did not verify.' }
                    $script:phases = 'pg_restore {0:N2} s, then verify {1:N2} s, swap {2:N2} s' -f $result.RestoreDuration.TotalSeconds, $result.VerifyDuration.TotalSeconds, $result.SwapDuration.TotalSeconds
                }
                raw   = { param($target) Invoke-RawRestore $target '' }
                floor = { param($target) Invoke-RawRestore $target '-c max_parallel_maintenance_workers=0' }
            }
            # A restore reads last night's backup from disk, not from the page cache the backup just filled: each
            # timed side starts with the backup's files dropped from the cache (fadvise DONTNEED, these files only).
            $backupFiles = @(Get-ChildItem $backup.Path -File | ForEach-Object FullName)
            function Clear-BackupCache { foreach ($f in $backupFiles) { & dd "if=$f" iflag=nocache count=0 status=none } }
            # Each side restores into a database of its own, from a cold cache, and is timed alone.
            function Measure-Side([string] $Side) {
                $target = "${db}_$Side$round"
                Clear-BackupCache
                (Measure-Command { & $sides[$Side] $target }).TotalSeconds
                $null = Remove-BenchDatabase $pg $target
                $null = Invoke-BenchPsql $pg 'CHECKPOINT'
            }
            $times = @{ puo = @(); raw = @(); floor = @(); check = @() }
            foreach ($round in 1..$Rounds) {
                $t = Invoke-BenchRound ([ordered]@{
                        puo   = { Measure-Side puo }
                        raw   = { Measure-Side raw }
                        floor = { Measure-Side floor }
                    })
                foreach ($side in $sides.Keys) { $times[$side] += $t[$side] }
                Clear-BackupCache
                $times.check += (Measure-Command {
                    if ((Test-PuoBackup -Environment bench -Path $backup.Path).Status -ne 'OK') { throw 'Test-PuoBackup failed.' }
                }).TotalSeconds
                Write-Host ("{0} MB round {1}: Restore-PuoBackup -Jobs 2 {2:N2} s ({3}), pg_restore --jobs 2 {4:N2} s, floor {5:N2} s, checksum + --list alone {6:N2} s, load {7}" -f
                    [math]::Round($size / 1MB), $round, $times.puo[-1], $phases, $times.raw[-1], $times.floor[-1], $times.check[-1], (Get-Content /proc/loadavg).Split(' ')[0])
            }
            $toRaw = for ($i = 0; $i -lt $Rounds; $i++) { $times.puo[$i] / $times.raw[$i] }
            $toFloor = for ($i = 0; $i -lt $Rounds; $i++) { $times.puo[$i] / $times.floor[$i] }
            [pscustomobject]@{
                Benchmark                                = "$Rounds rounds, database $([math]::Round($size / 1MB)) MB, backup $([math]::Round($backup.SizeBytes / 1MB)) MB"
                'Restore-PuoBackup -Jobs 2 (verified) s' = [math]::Round((Get-Median $times.puo), 2)
                'createdb + pg_restore --jobs 2 s'       = [math]::Round((Get-Median $times.raw), 2)
                'Ratio puo/raw (median of pairs)'        = [math]::Round((Get-Median $toRaw), 3)
                'Ratio puo/raw min..max'                 = '{0:N3}..{1:N3}' -f ($toRaw | Measure-Object -Minimum).Minimum, ($toRaw | Measure-Object -Maximum).Maximum
                Target                                   = '<= 1.05x'
                'Floor (same, PuoOps session setting) s' = [math]::Round((Get-Median $times.floor), 2)
                'Ratio puo/floor (median of pairs)'      = [math]::Round((Get-Median $toFloor), 3)
                'Ratio puo/floor min..max'               = '{0:N3}..{1:N3}' -f ($toFloor | Measure-Object -Minimum).Minimum, ($toFloor | Measure-Object -Maximum).Maximum
                'Checksum + pg_restore --list alone s'   = [math]::Round((Get-Median $times.check), 2)
            } | Format-List | Out-Host
        }
        finally {
            Remove-Item Env:PGPASSWORD -ErrorAction Ignore
            Remove-Item $dir -Recurse -Force -ErrorAction Ignore
            foreach ($name in Invoke-BenchPsql $pg "SELECT datname FROM pg_database WHERE datname LIKE '$db%'") { Remove-BenchDatabase $pg $name }
            Get-PuoEnvironment -Name bench -ErrorAction Ignore | Disconnect-PuoEnvironment -Confirm:$false
        }
    }
}
finally {
    if ($ownSandbox) { Stop-BenchSandbox $StateFile }
}
