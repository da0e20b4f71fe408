# Runbook: Backup and Recovery (backup failure, disaster recovery restore), Database Migration and the
# audit_logs dump of the Data Breach Response, as an operator composes them in pwsh with the built module.

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    Connect-PuoSandbox
    $script:pg = (Get-PuoSandboxState).Postgres
    $script:dir = Join-Path ([IO.Path]::GetTempPath()) "pester-backup-$(Get-Random)"

    function Invoke-Psql([string] $Sql, [string] $Database = 'postgres') {
        # psql as a separate client; the password only in its own environment.
        $env:PGPASSWORD = $pg.Password
        try { & (Join-Path $pg.BinDir 'psql') -X -qAt -v ON_ERROR_STOP=1 -h $pg.Host -p $pg.Port -U $pg.User -d $Database -c $Sql }
        finally { Remove-Item Env:PGPASSWORD }
        if ($LASTEXITCODE -ne 0) { throw "psql failed: $Sql" }
    }

    # A database of this test file's own, so the restore's swap never touches the shared puo_memo.
    $script:db = "pester_bk_$(Get-Random)"
    Invoke-Psql "CREATE DATABASE $db"
    Invoke-Psql @"
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); INSERT INTO alembic_version VALUES ('a1b2c3d4e5f6');
CREATE TABLE memories (id bigserial PRIMARY KEY, content text); INSERT INTO memories (content) SELECT md5(g::text) FROM generate_series(1, 5000) g;
"@ $db
    $cs = "Host=$($pg.Host);Port=$($pg.Port);Database=$db;Username=$($pg.User);Password=$($pg.Password)"
    $script:own = Connect-PuoEnvironment -Name $db -PostgresConnectionString $cs -SkipCheck -NoDefault -PassThru
}

AfterAll {
    $own | Disconnect-PuoEnvironment -Confirm:$false
    foreach ($name in Invoke-Psql "SELECT datname FROM pg_database WHERE datname LIKE '$db%'") { Invoke-Psql "DROP DATABASE `"$name`" WITH (FORCE)" }
    Remove-Item $dir -Recurse -Force -ErrorAction Ignore
}

Describe 'Backup Failure: disk space, manual backup, integrity test' {
    It 'checks the disk, backs up audit_logs and proves the dump with its manifest' {
        $space = Test-PuoDiskSpace -Path $dir
        $space.NextBackupFits | Should -BeTrue
        $backup = Backup-PuoDatabase -Path $dir -Table audit_logs
        $backup.Partial | Should -BeTrue
        $backup.Tables.Rows | Should -Be ([long](Invoke-Psql 'SELECT count(*) FROM audit_logs' $pg.Database))
        $test = $backup | Test-PuoBackup -MaxAge 01:00:00
        $test.Status | Should -Be 'OK'
        $test.Readable | Should -BeTrue
        (Get-PuoBackup -Path $dir -Latest).Verified | Should -BeTrue
        Get-ChildItem $dir -Force | Where-Object Name -like '*.partial' | Should -BeNullOrEmpty
    }
}

Describe 'Disaster Recovery: restore --latest' {
    It 'restores the latest backup over a damaged database and keeps the damaged one' {
        $null = Backup-PuoDatabase -Path $dir -Environment $own
        Invoke-Psql 'DELETE FROM memories WHERE id > 100' $db
        $result = Restore-PuoBackup -Path $dir -Latest -Environment $own -Confirm:$false
        $result.Verified | Should -BeTrue
        Invoke-Psql 'SELECT count(*) FROM memories' $db | Should -Be 5000
        Invoke-Psql 'SELECT count(*) FROM memories' $result.PreviousDatabase | Should -Be 100
    }
}

Describe 'Database Migration: backup, upgrade, verify' {
    It 'runs the migration command against the environment and records every step' {
        $command = "psql -X -q -c `"UPDATE alembic_version SET version_num = 'b2c3d4e5f6a7'`" && echo 'Running upgrade a1b2c3d4e5f6 -> b2c3d4e5f6a7, add tags'"
        $run = Invoke-PuoMigration -Environment $own -BackupPath $dir -Command $command -SmokeTest { $true } -Confirm:$false
        $run.Succeeded | Should -BeTrue
        $run.Steps.Name | Should -Be @('Backup', 'VerifyBackup', 'Migrate', 'CheckVersion', 'SmokeTest')
        (Get-PuoMigrationVersion -Environment $own).Version | Should -Be 'b2c3d4e5f6a7'
        Test-Path $run.BackupPath | Should -BeTrue
    }
}

Describe 'Disaster Recovery: a restore whose shell is killed (kill -9)' {
    BeforeAll {
        # A database of its own, big enough that pg_restore runs for seconds; named after $db, so AfterAll drops it.
        $script:killDb = "${db}_kill"
        Invoke-Psql "CREATE DATABASE $killDb"
        Invoke-Psql @"
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); INSERT INTO alembic_version VALUES ('a1b2c3d4e5f6');
CREATE TABLE memories (id bigserial PRIMARY KEY, content text); INSERT INTO memories (content) SELECT repeat(md5(g::text), 3) FROM generate_series(1, 400000) g;
CREATE INDEX memories_content ON memories (content);
"@ $killDb
        $script:killCs = "Host=$($pg.Host);Port=$($pg.Port);Database=$killDb;Username=$($pg.User);Password=$($pg.Password)"
        $script:killEnv = Connect-PuoEnvironment -Name $killDb -PostgresConnectionString $killCs -SkipCheck -NoDefault -PassThru
        $script:killBackup = Backup-PuoDatabase -Path (Join-Path $dir kill) -Environment $killEnv
        function Get-Fingerprint { Invoke-Psql "SELECT count(*) || ':' || md5(string_agg(m::text, ',' ORDER BY id)) FROM memories m" $killDb }
        function Get-Scratch { @(Invoke-Psql "SELECT datname FROM pg_database WHERE datname ~ '^${killDb}_(restore|verify)_[0-9a-f]{8}$'") }

        # Runs Restore-PuoBackup in a child pwsh and kills it with SIGKILL while its pg_restore runs: the child
        # alone (its pg_restore and its scratch guard live on), or with -EntireTree everything it started.
        function Invoke-KilledRestore([switch] $EntireTree) {
            $start = [Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
            if ([IO.Path]::GetFileNameWithoutExtension($start.FileName) -eq 'dotnet') { $start.ArgumentList.Add("$PSHOME/pwsh.dll") }
            foreach ($a in '-NoProfile', '-NonInteractive', '-Command',
                'Import-Module (Join-Path $env:PUO_MODULE_PATH PuoOps.psd1); $null = Connect-PuoEnvironment -Name child -PostgresConnectionString $env:PUO_KILL_CS -SkipCheck; Restore-PuoBackup -Path $env:PUO_KILL_BACKUP -Confirm:$false') {
                $start.ArgumentList.Add($a)
            }
            # The password reaches the child only through its environment.
            $start.Environment['PUO_KILL_CS'] = $killCs
            $start.Environment['PUO_KILL_BACKUP'] = $killBackup.Path
            $start.RedirectStandardOutput = $true; $start.RedirectStandardError = $true
            # A killed .NET process leaves its IPC sockets (dotnet-diagnostic-*, clr-debug-pipe-*, CoreFxPipe_*) in its
            # temp folder: give it one of its own, removed below.
            $childTemp = New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) "puo-killed-restore-$(Get-Random)")
            $start.Environment['TMPDIR'] = $childTemp.FullName
            $child = [Diagnostics.Process]::Start($start)
            try {
                $restoring = $false
                for ($i = 0; $i -lt 600 -and -not $restoring -and -not $child.HasExited; $i++) {
                    $restoring = [int](Invoke-Psql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'PuoOps pg_restore' AND datname ~ '^${killDb}_restore_'") -gt 0
                    if (-not $restoring) { Start-Sleep -Milliseconds 100 }
                }
                $restoring | Should -BeTrue -Because "the child must be killed while pg_restore runs $(if ($child.HasExited) { $child.StandardError.ReadToEnd() })"
            }
            finally {
                if (-not $child.HasExited) { $child.Kill($EntireTree.IsPresent) }
                $child.WaitForExit()
                Remove-Item -LiteralPath $childTemp -Recurse -Force
            }
        }
        function Wait-NoScratch {
            for ($i = 0; $i -lt 100 -and (Get-Scratch).Count; $i++) { Start-Sleep -Milliseconds 100 }
            Get-Scratch
        }
        Invoke-Psql "INSERT INTO memories (content) VALUES ('after the backup')" $killDb
        $script:before = Get-Fingerprint
    }
    AfterAll { $killEnv | Disconnect-PuoEnvironment -Confirm:$false }

    It 'leaves the original untouched, and the guard drops the scratch database and ends the orphaned pg_restore' {
        Invoke-KilledRestore
        Wait-NoScratch | Should -BeNullOrEmpty -Because 'the scratch guard drops the database once the dead run releases its lock'
        $left = 1
        for ($i = 0; $i -lt 50 -and $left; $i++) {
            $left = [int](Invoke-Psql "SELECT count(*) FROM pg_stat_activity WHERE application_name IN ('PuoOps pg_restore', 'PuoOps scratch guard')")
            if ($left) { Start-Sleep -Milliseconds 100 }
        }
        $left | Should -Be 0 -Because 'the drop closes the orphaned pg_restore''s connections, and the guard ends'
        Get-Fingerprint | Should -Be $before
    }

    It 'leaves the original untouched, and the next restore test drops what a run killed with its guard left' {
        Invoke-KilledRestore -EntireTree
        $orphan = Get-Scratch
        $orphan.Count | Should -Be 1 -Because 'with the guard killed too, the scratch database stays until the next run'
        Get-Fingerprint | Should -Be $before

        # -WhatIf drops nothing.
        Restore-PuoBackup -Path $killBackup.Path -Environment $killEnv -WhatIf
        Get-Scratch | Should -Be $orphan

        $verbose = $killBackup | Test-PuoBackup -Restore -Environment $killEnv -Verbose 4>&1
        ($verbose | Where-Object { $_ -isnot [Management.Automation.VerboseRecord] }).Status | Should -Be 'OK'
        ($verbose | Where-Object { $_ -is [Management.Automation.VerboseRecord] -and $_.Message -like "Dropping the scratch database $orphan*" }) | Should -Not -BeNullOrEmpty
        Wait-NoScratch | Should -BeNullOrEmpty
        Get-Fingerprint | Should -Be $before
    }
}
