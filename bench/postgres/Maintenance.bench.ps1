#Requires -Version 7.4
<#
.SYNOPSIS
    Get-PuoTableSize, Get-PuoIndexUsage and Get-PuoMaintenanceStatus vs the runbook's psql queries, on a
    database of 500 tables and 1,500 indexes.
.DESCRIPTION
    Issue targets, per cmdlet: at most 1.5x the server time of the runbook's SQL, and faster than a psql
    one-shot process running it. Creates the database puo_bench_maint in the sandbox (dropped afterwards), then
    measures, each round in a random order of the sides, in this one process:
      - cmdlet: one call inside this pwsh session (Stopwatch around `$null = Get-Puo...`), module loaded and
        connection pooled, as an operator's session has them;
      - server: the runbook SQL's execution time from EXPLAIN (ANALYZE, TIMING OFF) in one warm psql session,
        and its round trip from psql's \timing in the same session;
      - one-shot: a whole `psql -c '<runbook SQL>'` process, as the runbook runs it.
    Prints the medians and the ratios. Uses the sandbox named by -StateFile (default: starts a small one of its
    own and stops it afterwards). Run after `dotnet pwsh ./build.ps1 -Task Build`.
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/postgres/Maintenance.bench.ps1 -StateFile out/sandbox/state.json -Rounds 7
#>
param(
    [string] $StateFile,
    [int] $Rounds = 7,
    [int] $PerRound = 3,
    [int] $Tables = 500
)
$ErrorActionPreference = 'Stop'
$root = Resolve-Path "$PSScriptRoot/../.."
$version = (Import-PowerShellDataFile "$root/PuoOps.psd1").ModuleVersion
$database = 'puo_bench_maint'
Import-Module "$PSScriptRoot/../BenchTools.psm1" -Force
$ownSandbox = -not $StateFile
if ($ownSandbox) { $StateFile = Start-BenchSandbox -Name maint -Arguments '-Services', 'Postgres', '-MemoryRows', '1000' }
$pg = (Get-Content $StateFile -Raw | ConvertFrom-Json).Postgres
$psql = Join-Path $pg.BinDir 'psql'
$connect = @('-X', '-h', $pg.Host, '-p', $pg.Port, '-U', $pg.User)
$env:PGPASSWORD = $pg.Password

try {
    Write-Host "Creating ${database}: $Tables tables with a primary key and 2 more indexes each..."
    & $psql @connect -d postgres -qc "DROP DATABASE IF EXISTS $database" -c "CREATE DATABASE $database"
    if ($LASTEXITCODE) { throw 'CREATE DATABASE failed.' }
    @"
DO `$`$ BEGIN FOR i IN 1..$Tables LOOP
  EXECUTE format('CREATE TABLE t%s (id bigserial PRIMARY KEY, a int, b text, c timestamptz DEFAULT now())', i);
  EXECUTE format('CREATE INDEX t%s_a ON t%s (a)', i, i);
  EXECUTE format('CREATE INDEX t%s_bc ON t%s (b, c)', i, i);
  EXECUTE format('INSERT INTO t%s (a, b) SELECT g, md5(g::text) FROM generate_series(1, 200) g', i);
END LOOP; END `$`$;
VACUUM ANALYZE;
"@ | & $psql @connect -d $database -q -v ON_ERROR_STOP=1
    if ($LASTEXITCODE) { throw 'Seeding failed.' }

    Import-Module "$root/out/PuoOps/$version/PuoOps.psd1"
    $null = Connect-PuoEnvironment -Name bench -PostgresConnectionString ($pg.ConnectionString -replace 'Database=[^;]+', "Database=$database") -SkipCheck

    # The runbook's SQL for each. Its "Check indexes" query names columns pg_stat_all_indexes does not have
    # (tablename, indexname) and fails as written; the corrected names are used. The runbook has no vacuum-status
    # query; the usual pg_stat_user_tables one, with the XID age the cmdlet also reports, stands in.
    $cases = @(
        @{ Name = 'Get-PuoTableSize'; Command = { Get-PuoTableSize }
           Sql = "SELECT schemaname, tablename, pg_size_pretty(pg_total_relation_size(schemaname||'.'||tablename)) AS size FROM pg_tables WHERE schemaname = 'public' ORDER BY pg_total_relation_size(schemaname||'.'||tablename) DESC" }
        @{ Name = 'Get-PuoIndexUsage'; Command = { Get-PuoIndexUsage }
           Sql = "SELECT schemaname, relname, indexrelname, idx_scan FROM pg_stat_all_indexes WHERE schemaname = 'public' ORDER BY idx_scan" }
        @{ Name = 'Get-PuoIndexUsage -Unused -Force'; Command = { Get-PuoIndexUsage -Unused -Force }
           Sql = "SELECT schemaname, relname, indexrelname, idx_scan FROM pg_stat_all_indexes WHERE schemaname = 'public' AND idx_scan = 0 AND indexrelname NOT LIKE '%_pkey'" }
        @{ Name = 'Get-PuoMaintenanceStatus'; Command = { Get-PuoMaintenanceStatus }
           Sql = "SELECT s.schemaname, s.relname, s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze, s.n_live_tup, s.n_dead_tup, age(c.relfrozenxid) FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid" }
    )

    # Each round runs the three sides in a random order, so a change of machine load hits them alike and none is
    # always first; each round takes the median of $PerRound calls per side, and the ratios are computed per
    # round, then their median is reported.
    $results = foreach ($case in $cases) {
        $rows = @(& $case.Command).Count
        $null = & $case.Command   # warm-up: JIT, pool, catalog caches of the pooled backend
        $round = foreach ($r in 1..$Rounds) {
            $sides = Invoke-BenchRound ([ordered]@{
                    Cmdlet  = { foreach ($i in 1..$PerRound) { (Measure-Command { $null = & $case.Command }).TotalMilliseconds } }
                    # Server side: executions in one warm psql session: execution time (EXPLAIN) and round trip (\timing).
                    Server  = {
                        $script = "\o /dev/null`n\timing on`n" + ((1..$PerRound | ForEach-Object { "$($case.Sql);`n" }) -join '')
                        $timing = ($script | & $psql @connect -d $database -q) -match '^Time:' | ForEach-Object { [double]($_ -replace '^Time: ([\d.]+) ms.*', '$1') }
                        $explain = (1..$PerRound | ForEach-Object { "EXPLAIN (ANALYZE, TIMING OFF) $($case.Sql);`n" }) -join '' |
                            & $psql @connect -d $database -qAt | Where-Object { $_ -match '^Execution Time' } | ForEach-Object { [double]($_ -replace '^Execution Time: ([\d.]+) ms', '$1') }
                        @{ Timing = $timing; Explain = $explain }
                    }
                    OneShot = { foreach ($i in 1..$PerRound) { (Measure-Command { $null = & $psql @connect -d $database -c $case.Sql }).TotalMilliseconds } }
                })
            $c, $e, $t, $o = (Get-Median $sides.Cmdlet), (Get-Median $sides.Server.Explain), (Get-Median $sides.Server.Timing), (Get-Median $sides.OneShot)
            [pscustomobject]@{ Cmdlet = $c; Exec = $e; Timing = $t; OneShot = $o; RExec = $c / $e; RTiming = $c / $t; ROneShot = $c / $o }
        }
        [pscustomobject]@{
            Cmdlet              = $case.Name
            Rows                = $rows
            'Cmdlet ms'         = [math]::Round((Get-Median $round.Cmdlet), 2)
            'SQL exec ms'       = [math]::Round((Get-Median $round.Exec), 2)
            'SQL \timing ms'    = [math]::Round((Get-Median $round.Timing), 2)
            'psql one-shot ms'  = [math]::Round((Get-Median $round.OneShot), 2)
            'Cmdlet/exec'       = [math]::Round((Get-Median $round.RExec), 2)
            'Cmdlet/\timing'    = [math]::Round((Get-Median $round.RTiming), 2)
            'Cmdlet/one-shot'   = [math]::Round((Get-Median $round.ROneShot), 2)
        }
    }
    "$Rounds rounds of $PerRound calls per side (medians; ratios are medians of per-round ratios), $Tables tables / $(3 * $Tables) indexes. Targets: Cmdlet/exec <= 1.5, Cmdlet/one-shot < 1."
    $results | Format-Table -AutoSize | Out-String -Width 200

    # Get-PuoIndexUsage returns each index's definition, which the runbook's four columns do not have. What the
    # two ways of getting definitions cost on the server by themselves, against the 1.5x budget of the runbook SQL.
    $definitionSql = [ordered]@{
        'Column names of every indexed table (one hash join on pg_attribute)' =
            "SELECT a.attrelid, a.attnum, quote_ident(a.attname) FROM pg_attribute a WHERE a.attnum > 0 AND a.attrelid IN (SELECT x.indrelid FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid WHERE t.relnamespace = 'public'::regnamespace)"
        'pg_get_indexdef() of every index' =
            "SELECT pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid WHERE t.relnamespace = 'public'::regnamespace"
    }
    $budget = 1.5 * ($results | Where-Object Cmdlet -EQ 'Get-PuoIndexUsage').'SQL exec ms'
    foreach ($name in $definitionSql.Keys) {
        $explain = (1..($Rounds * $PerRound) | ForEach-Object { "EXPLAIN (ANALYZE, TIMING OFF) $($definitionSql[$name]);`n" }) -join '' |
            & $psql @connect -d $database -qAt | Where-Object { $_ -match '^Execution Time' } | ForEach-Object { [double]($_ -replace '^Execution Time: ([\d.]+) ms', '$1') }
        '{0}: {1:N2} ms server time (median), against a budget of {2:N2} ms for the whole Get-PuoIndexUsage' -f $name, (Get-Median $explain), $budget
    }
}
finally {
    & $psql @connect -d postgres -qc "DROP DATABASE IF EXISTS $database" 2>$null
    Remove-Item Env:PGPASSWORD -ErrorAction Ignore
    if ($ownSandbox) { Stop-BenchSandbox $StateFile }
}
