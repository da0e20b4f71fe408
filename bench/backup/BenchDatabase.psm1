<#
.SYNOPSIS
    Shared by the backup benchmarks (the sandbox comes from ../BenchTools.psm1): a seeded database of about -SizeMB made with
    generate_series (two equal tables with indexes, so a parallel restore has work to share) and psql helpers.
    The password goes to child processes only through PGPASSWORD.
#>
$ErrorActionPreference = 'Stop'

function Invoke-BenchPsql($Pg, [string] $Sql, [string] $Database = 'postgres') {
    $env:PGPASSWORD = $Pg.Password
    & (Join-Path $Pg.BinDir 'psql') -X -qAt -v ON_ERROR_STOP=1 -h $Pg.Host -p $Pg.Port -U $Pg.User -d $Database -c $Sql
    if ($LASTEXITCODE) { throw "psql failed: $Sql" }
}

function New-BenchDatabase($Pg, [string] $Name, [int] $SizeMB) {
    # ~200 bytes a row; two tables of half the size each, hex text that compresses about 2:1 like real data.
    $rows = [long]($SizeMB * 1MB / 2 / 200)
    Invoke-BenchPsql $Pg "CREATE DATABASE $Name"
    foreach ($t in 'memories_a', 'memories_b') {
        Invoke-BenchPsql $Pg @"
CREATE TABLE $t (id bigint PRIMARY KEY, user_id text NOT NULL, content text, created_at timestamptz NOT NULL);
INSERT INTO $t SELECT g, 'user_' || (g % 1000), md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text), now() - g * interval '1 second'
FROM generate_series(1, $rows) g;
CREATE INDEX ${t}_user ON $t (user_id);
"@ $Name
    }
    Invoke-BenchPsql $Pg @"
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); INSERT INTO alembic_version VALUES ('a1b2c3d4e5f6');
"@ $Name
    Invoke-BenchPsql $Pg 'VACUUM ANALYZE' $Name
    [long](Invoke-BenchPsql $Pg "SELECT pg_database_size('$Name')")
}

# Seeds the database, then imports the built module and connects the environment "bench" to it, as both
# benchmarks start. Returns the database's size in bytes.
function Initialize-BenchDatabase([string] $Root, $Pg, [string] $Name, [int] $SizeMB) {
    $seed = Measure-Command { $size = New-BenchDatabase $Pg $Name $SizeMB }
    Write-Host ("Seeded {0} ({1:N0} MB) in {2:N0} s" -f $Name, ($size / 1MB), $seed.TotalSeconds)
    $version = (Import-PowerShellDataFile "$Root/PuoOps.psd1").ModuleVersion
    Import-Module "$Root/out/PuoOps/$version/PuoOps.psd1" -Global
    $cs = "Host=$($Pg.Host);Port=$($Pg.Port);Database=$Name;Username=$($Pg.User);Password=$($Pg.Password)"
    $null = Connect-PuoEnvironment -Name bench -PostgresConnectionString $cs -SkipCheck
    $size
}

function Remove-BenchDatabase($Pg, [string] $Name) {
    Invoke-BenchPsql $Pg "DROP DATABASE IF EXISTS `"$Name`" WITH (FORCE)"
}

Export-ModuleMember -Function Invoke-BenchPsql, New-BenchDatabase, Initialize-BenchDatabase, Remove-BenchDatabase
