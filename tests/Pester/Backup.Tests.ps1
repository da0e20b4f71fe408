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
