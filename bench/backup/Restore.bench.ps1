#Requires -Version 7.4
<#
.SYNOPSIS
    Restore-PuoBackup -Jobs 2 (checksum, restore into a scratch database, verification, swap) vs pg_restore --jobs 2
    alone, of the same directory-format backup, in the same run.
.DESCRIPTION
    Issue target: Restore-PuoBackup -Jobs 2 within 1.05x of createdb + pg_restore --jobs 2 alone (the median of
    the per-round ratios). PuoOps' side is everything it does: orphan check, pg_restore --list, the checksum of
    every chunk beside pg_restore --jobs 2 into a scratch database, row counts, alembic check, sanity query and
    the swap by renaming. The raw side, createdb + pg_restore --jobs 2 with nothing verified, is also the floor:
    every two-job restore runs it. A third figure, the checksum and pg_restore --list alone (Test-PuoBackup
    without -Restore), is the work that would add to the restore if it ran before pg_restore.
    The sides alternate which goes first; each restores into a new database, dropped afterwards (not timed), and
    starts with the backup's files dropped from the page cache, as a restore of last night's backup reads them from disk.
    Every -SizeMB is seeded, backed up, measured and dropped in turn, so one size's data is gone before the next
    one's is made. Uses the sandbox named by -StateFile, else starts its own (Postgres only) and stops it.
    Run after `dotnet pwsh ./build.ps1 -Task Build`.
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/backup/Restore.bench.ps1 -SizeMB 512, 2150 -Rounds 3
    About 488 MB and 2 GB databases; three rounds of each side for each.
#>
param(
    [string] $StateFile,
    [int[]] $SizeMB = 512,
    [ValidateRange(1, 9)]
    [int] $Rounds = 3
)
$ErrorActionPreference = 'Stop'
$root = Resolve-Path "$PSScriptRoot/../.."
Import-Module "$PSScriptRoot/BenchDatabase.psm1" -Force
$sandbox = Start-BenchSandbox $root $StateFile
$pg = (Get-Content $sandbox.StateFile -Raw | ConvertFrom-Json).Postgres
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
            $sides = @{
                puo = {
                    param($target)
                    $result = Restore-PuoBackup -Environment bench -Path $backup.Path -Database $target -Jobs 2 -Confirm:$false
                    if (-not $result.Verified) { throw 'Restore-PuoBackup did not verify.' }
                    $script:phases = 'restore {0:N2} s, verify {1:N2} s, swap {2:N2} s' -f $result.RestoreDuration.TotalSeconds, $result.VerifyDuration.TotalSeconds, $result.SwapDuration.TotalSeconds
                }
                raw = {
                    param($target)
                    Invoke-BenchPsql $pg "CREATE DATABASE $target TEMPLATE template0"
                    $env:PGPASSWORD = $pg.Password
                    & $pgRestore -h $pg.Host -p $pg.Port -U $pg.User -d $target --jobs 2 $backup.Path
                    if ($LASTEXITCODE) { throw 'pg_restore --jobs 2 failed' }
                }
            }
            # A restore reads last night's backup from disk, not from the page cache the backup just filled: each
            # timed side starts with the backup's files dropped from the cache (fadvise DONTNEED, these files only).
            $backupFiles = @(Get-ChildItem $backup.Path -File | ForEach-Object FullName)
            function Clear-BackupCache { foreach ($f in $backupFiles) { & dd "if=$f" iflag=nocache count=0 status=none } }
            $times = @{ puo = @(); raw = @(); check = @() }
            foreach ($round in 1..$Rounds) {
                foreach ($side in $(if ($round % 2) { 'puo', 'raw' } else { 'raw', 'puo' })) {
                    $target = "${db}_$side$round"
                    Clear-BackupCache
                    $times[$side] += (Measure-Command { & $sides[$side] $target }).TotalSeconds
                    Remove-BenchDatabase $pg $target
                    Invoke-BenchPsql $pg 'CHECKPOINT'
                }
                Clear-BackupCache
                $times.check += (Measure-Command {
                    if ((Test-PuoBackup -Environment bench -Path $backup.Path).Status -ne 'OK') { throw 'Test-PuoBackup failed.' }
                }).TotalSeconds
                Write-Host ("{0} MB round {1}: Restore-PuoBackup -Jobs 2 {2:N2} s ({3}), pg_restore --jobs 2 {4:N2} s, checksum + --list alone {5:N2} s, load {6}" -f
                    [math]::Round($size / 1MB), $round, $times.puo[-1], $phases, $times.raw[-1], $times.check[-1], (Get-Content /proc/loadavg).Split(' ')[0])
            }
            $ratios = for ($i = 0; $i -lt $Rounds; $i++) { $times.puo[$i] / $times.raw[$i] }
            [pscustomobject]@{
                Benchmark                                       = "$Rounds rounds, database $([math]::Round($size / 1MB)) MB, backup $([math]::Round($backup.SizeBytes / 1MB)) MB"
                'Restore-PuoBackup -Jobs 2 (verified) s'        = [math]::Round((Get-Median $times.puo), 2)
                'createdb + pg_restore --jobs 2 (the floor) s'  = [math]::Round((Get-Median $times.raw), 2)
                'Ratio PuoOps/raw (median of pairs)'            = [math]::Round((Get-Median $ratios), 3)
                'Ratio min..max'                                = '{0:N3}..{1:N3}' -f ($ratios | Measure-Object -Minimum).Minimum, ($ratios | Measure-Object -Maximum).Maximum
                Target                                          = '<= 1.05x'
                'Checksum + pg_restore --list alone s'          = [math]::Round((Get-Median $times.check), 2)
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
    Stop-BenchSandbox $root $sandbox
}
