# Every ```powershell block of README.md runs as written against the sandbox, in a new pwsh -NonInteractive as a reader
# would paste it (the module imported, the sandbox connected as the default environment): each pipeline (top-level
# statement) must raise no error and produce what the README says it does, listed below. A block that cannot run here
# is marked in the README with <!-- not run: reason --> on the line before it, and such marks stay rare.

BeforeDiscovery {
    $repo = (Resolve-Path "$PSScriptRoot/../..").Path
    $lines = Get-Content -LiteralPath (Join-Path $repo 'README.md')
    $script:blocks = @()
    for ($i = 0; $i -lt $lines.Count; $i++) {
        if ($lines[$i] -notmatch '^```powershell\s*$') { continue }
        $start = $i + 1
        $mark = if ($i -gt 0 -and $lines[$i - 1] -match '^<!-- not run: (.+) -->$') { $Matches[1] }
        while (++$i -lt $lines.Count -and $lines[$i] -notmatch '^```\s*$') { }
        $code = $lines[$start..($i - 1)] -join "`n"
        $script:blocks += @{ Line = $start; Code = $code; NotRun = $mark; First = ($lines[$start..($i - 1)] | Where-Object { $_ -match '^\s*[^#\s]' } | Select-Object -First 1) }
    }
    $script:runnable = @($blocks | Where-Object { -not $_.NotRun })
    $script:marked = @($blocks | Where-Object NotRun)
}

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $connection = Get-PuoSandboxConnection
    # The headline pipeline lists never-scanned indexes. The sandbox seeds one, but other tests may have scanned it since
    # (Get-PuoAffectedUser's query can use it): this one nothing reads.
    $scratch = "readme_$(Get-Random -Maximum 1000000)"
    Start-PuoPsql -Wait "CREATE TABLE $scratch (id int PRIMARY KEY, note text); CREATE INDEX ${scratch}_note ON $scratch (note);"

    # What each README pipeline produces on the sandbox: the type of its objects, or WhatIf (the "What if:" lines and
    # nothing else), or Nothing (an assignment, a clean-up). MayBeEmpty: a filter that is empty on a healthy sandbox.
    $expected = @{
        'Get-PuoIndexUsage -Unused | Invoke-PuoReindex -WhatIf'                                             = @{ WhatIf = $true; Names = @("${scratch}_note") }
        'Get-PuoMaintenanceStatus | Where-Object Status -ne OK | Invoke-PuoVacuum -Analyze'                 = @{ Type = 'PuoOps.MaintenanceResult'; MayBeEmpty = $true }
        'Test-PuoHealth | Where-Object Status -ne OK'                                                       = @{ Type = 'PuoOps.HealthCheck'; MayBeEmpty = $true }
        'Get-PuoContainerStats'                                                                             = @{ Type = 'PuoOps.ContainerStats' }
        'Get-PuoSlowQuery -MinimumDuration 5s | Stop-PuoQuery -WhatIf'                                      = @{ WhatIf = $true; MayBeEmpty = $true }
        'Set-PuoServiceScale -Service api -Replicas 3 -WhatIf'                                              = @{ WhatIf = $true }
        'Get-PuoProcess -Top 5'                                                                             = @{ Type = 'PuoOps.ProcessInfo' }
        'Restart-PuoService api, mcp -Wait -WhatIf'                                                         = @{ WhatIf = $true }
        'Invoke-PuoDiagnostic -BackupPath ([IO.Path]::GetTempPath())'                                       = @{ Type = 'PuoOps.DiagnosticReport' }
        'Test-PuoSecretEnvironment'                                                                         = @{ Type = 'PuoOps.SecretCheck' }
        'Reset-PuoApiKey -WhatIf'                                                                           = @{ WhatIf = $true }
        'Test-PuoPostgres'                                                                                  = @{ Type = 'PuoOps.PostgresHealth' }
        'Get-PuoConnectionStat'                                                                             = @{ Type = 'PuoOps.ConnectionStat' }
        'Test-PuoRedis'                                                                                     = @{ Type = 'PuoOps.RedisHealth' }
        'Get-PuoRedisInfo -Section memory'                                                                  = @{ Type = 'PuoOps.RedisMemoryInfo' }
        'Get-PuoRedisConfig maxmemory'                                                                      = @{ Type = 'PuoOps.RedisConfigSetting' }
        "Clear-PuoCache -Pattern 'puo:*' -WhatIf"                                                           = @{ Type = 'PuoOps.CacheClearResult'; WhatIf = $true }
        "Get-PuoQueryPlan `"SELECT * FROM memories WHERE user_id = 'user_42' ORDER BY created_at DESC LIMIT 20`"" = @{ Type = 'PuoOps.QueryPlan' }
        'Invoke-PuoAnalyze -Table memories'                                                                 = @{ Type = 'PuoOps.MaintenanceResult' }
        'Invoke-PuoPrewarm -Table memories'                                                                 = @{ Type = 'PuoOps.PrewarmResult' }
        'Measure-PuoLatency -Url "$env:PUO_API_URL/health" -Count 200 -Sla 1s'                              = @{ Type = 'PuoOps.LatencyReport' }
        '$logs = Join-Path (Split-Path (Get-PuoEnvironment -Default).NginxConfig) logs'                     = @{ Nothing = $true }
        "Search-PuoLog -Path `$logs -Pattern 'GET /health' | Select-Object -First 3"                        = @{ Type = 'PuoOps.LogLine' }
        'Get-PuoTableSize'                                                                                  = @{ Type = 'PuoOps.TableSize' }
        'Get-PuoIndexBloat -Table memories'                                                                 = @{ Type = 'PuoOps.IndexBloat' }
        "Find-PuoAuthFailure -Path `$logs/access.log -Threshold 20 | Block-PuoIpAddress -Reason 'brute force' -WhatIf" = @{ WhatIf = $true; MayBeEmpty = $true }
        "Block-PuoIpAddress 203.0.113.7 -Reason 'brute force' -WhatIf"                                      = @{ WhatIf = $true }
        'Get-PuoAuditLog -Action *auth* -First 5'                                                           = @{ Type = 'PuoOps.AuditLogEntry' }
        'Stop-PuoService api, mcp -WhatIf'                                                                  = @{ WhatIf = $true }
        'Save-PuoIncidentEvidence -LogPath $logs -Table audit_logs -Destination ([IO.Path]::GetTempPath()) -WhatIf' = @{ WhatIf = $true }
        'Get-PuoAffectedUser -Since 2h | Select-Object -First 5'                                            = @{ Type = 'PuoOps.AffectedUser'; MayBeEmpty = $true }
        'Get-PuoTrafficState'                                                                               = @{ Type = 'PuoOps.TrafficState' }
        'Switch-PuoTraffic -WhatIf'                                                                         = @{ WhatIf = $true }
        'Get-PuoMigrationVersion'                                                                           = @{ Type = 'PuoOps.MigrationVersion' }
        'Test-PuoHealth'                                                                                    = @{ Type = 'PuoOps.HealthCheck' }
        'Get-PuoImage | Select-Object -First 5'                                                             = @{ Type = 'PuoOps.DockerImage' }
        'Get-PuoMetric -Name http_requests_total'                                                           = @{ Type = 'PuoOps.Metric' }
        '$backups = Join-Path ([IO.Path]::GetTempPath()) "puo-tour-$PID"'                                   = @{ Nothing = $true }
        'Backup-PuoDatabase -Path $backups | Test-PuoBackup'                                                = @{ Type = 'PuoOps.BackupTestResult' }
        'Test-PuoDiskSpace -Path $backups'                                                                  = @{ Type = 'PuoOps.DiskSpace' }
        'Get-PuoBackup -Path $backups -Latest | Restore-PuoBackup -WhatIf'                                  = @{ WhatIf = $true }
        'Remove-Item -LiteralPath $backups -Recurse -Force'                                                 = @{ Nothing = $true }
    }

    function Get-Pipeline([string] $Code) {
        # The block's top-level statements, as written (comments are not statements).
        $tokens = $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($Code, [ref] $tokens, [ref] $errors)
        if ($errors) { throw "The block does not parse: $($errors[0].Message)" }
        @($ast.EndBlock.Statements | ForEach-Object { ($_.Extent.Text -replace '\s+', ' ').Trim() })
    }

    function Invoke-Block([string] $Code) {
        # A new pwsh -NonInteractive whose output is not a terminal, connected to the sandbox as a reader's session is;
        # each statement runs in turn, in the same scope, between markers that say what it wrote and what failed.
        $json = ($connection | ConvertTo-Json -Compress) -replace "'", "''"
        $statements = (Get-Pipeline $Code | ForEach-Object { "'" + ($_ -replace "'", "''") + "'" }) -join ', '
        $script = @"
`$connection = '$json' | ConvertFrom-Json -AsHashtable
Import-Module '$env:PUO_MODULE_PATH/PuoOps.psd1'
`$null = Connect-PuoEnvironment @connection -Default
`$ProgressPreference = 'SilentlyContinue'
foreach (`$statement in @($statements)) {
    "@@BEGIN `$statement"
    `$before = `$Error.Count
    try { `$out = @(. ([scriptblock]::Create(`$statement))) } catch { `$out = @() }
    "@@TYPES " + ((`$out | ForEach-Object { `$_.PSObject.TypeNames[0] } | Select-Object -Unique) -join '|')
    "@@ERRORS " + ((`$Error | Select-Object -First (`$Error.Count - `$before) | ForEach-Object { "`$_" }) -join ' / ')
}
"@
        $info = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
        foreach ($argument in "$PSHOME/pwsh.dll", '-NoProfile', '-NonInteractive', '-Command', $script) { $info.ArgumentList.Add($argument) }
        $info.RedirectStandardInput = $true; $info.RedirectStandardOutput = $true; $info.RedirectStandardError = $true
        $variables = @{ DatabaseUrl = 'DATABASE_URL'; RedisConnectionString = 'REDIS_URL'; DockerHost = 'DOCKER_HOST'; ApiUrl = 'PUO_API_URL'; McpUrl = 'PUO_MCP_URL' }
        foreach ($key in $variables.Keys) { $info.Environment[$variables[$key]] = [string]$connection[$key] }
        $process = [System.Diagnostics.Process]::Start($info)
        try {
            $process.StandardInput.Close()
            $output = $process.StandardOutput.ReadToEndAsync()
            $errors = $process.StandardError.ReadToEndAsync()
            if (-not $process.WaitForExit(300000)) { $process.Kill($true); throw 'The block did not finish within 5 minutes.' }
            $errors.Result | Should -BeNullOrEmpty -Because 'nothing is written to stderr'
            # One result per statement: what it wrote besides objects (What if: lines), its objects' types, its errors.
            foreach ($part in ($output.Result -split '(?m)^@@BEGIN ' | Select-Object -Skip 1)) {
                $partLines = $part -split '\r?\n'
                [pscustomobject]@{
                    Statement = $partLines[0]
                    Host      = ($partLines | Where-Object { $_ -notmatch '^@@' } | Select-Object -Skip 1) -join "`n"
                    Types     = @(($partLines | Where-Object { $_ -like '@@TYPES *' }).Substring(8) -split '\|' | Where-Object { $_ })
                    Errors    = ($partLines | Where-Object { $_ -like '@@ERRORS *' }).Substring(9)
                }
            }
        }
        finally { $process.Dispose() }
    }
}

AfterAll { Start-PuoPsql -Wait "DROP TABLE IF EXISTS $scratch" }

Describe 'README.md pipelines, as written' {
    It 'every pipeline of a runnable block has its outcome described in this test' {
        $missing = $runnable | ForEach-Object { Get-Pipeline $_.Code } | Where-Object { -not $expected.ContainsKey($_) }
        $missing | Should -BeNullOrEmpty -Because 'a new README pipeline needs its expected outcome in tests/Pester/Readme.Tests.ps1'
    }

    It 'the blocks that cannot run say why, and are few (<Count> of them)' -TestCases @(@{ Count = $marked.Count; Marked = $marked; All = $blocks.Count }) {
        $Count | Should -BeLessOrEqual 3
        $Count | Should -BeLessThan ($All / 3)
        foreach ($block in $Marked) { $block.NotRun | Should -Match '\w{4,}' }
    }

    It 'block at line <Line> (<First>) runs, each pipeline with its outcome' -ForEach $runnable {
        $results = @(Invoke-Block $Code)
        $results.Statement | Should -Be @(Get-Pipeline $Code) -Because 'every statement ran'
        foreach ($result in $results) {
            $want = $expected[$result.Statement]
            $because = "'$($result.Statement)' wrote: $($result.Host)"
            $result.Errors | Should -BeNullOrEmpty -Because $because
            if ($want.Nothing) { $result.Types | Should -BeNullOrEmpty -Because $because; continue }
            $empty = -not $result.Types -and $result.Host -notmatch 'What if:'
            if ($want.MayBeEmpty -and $empty) { continue }
            if ($want.WhatIf) { $result.Host | Should -Match 'What if:' -Because $because }
            foreach ($name in $want.Names) { $result.Host | Should -Match ([regex]::Escape($name)) -Because $because }
            if ($want.Type) { $result.Types | Should -Be @($want.Type) -Because $because }
            elseif ($want.WhatIf) { $result.Types | Should -BeNullOrEmpty -Because "-WhatIf changes nothing and returns nothing: $because" }
        }
    }
}
