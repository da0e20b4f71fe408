# One way to name things: one table of cases (case, sets, escapes, schema.table, quotes and semicolons in names) run
# against every cmdlet that selects objects by name, on oddly named tables, indexes, compose services, containers,
# environments, images and metrics made here and removed afterwards. A name without wildcards that matches nothing is an
# ObjectNotFound error; a wildcard that matches nothing returns nothing. Values piped from a producer select exactly
# the object they came from.

BeforeDiscovery {
    # Pattern: what is typed ({s} is the scope's schema). Expected: the names selected. Literal: no wildcard, so
    # selecting nothing is ObjectNotFound. Qualified: a schema.name case, for the PostgreSQL selectors only.
    $cases = @(
        @{ Pattern = 'memories'; Literal = $true; Expected = @('Memories') }                              # case-insensitive
        @{ Pattern = 'MEMOR*'; Literal = $false; Expected = @('Memories', 'memory_links') }
        @{ Pattern = 'mem?ries'; Literal = $false; Expected = @('Memories') }
        @{ Pattern = '[lm]emories'; Literal = $false; Expected = @('Memories') }                          # a set
        @{ Pattern = '[a-l]emories'; Literal = $false; Expected = @() }                                  # a range that misses
        @{ Pattern = 'odd`*star'; Literal = $true; Expected = @('odd*star') }                              # escapes
        @{ Pattern = 'odd*'; Literal = $false; Expected = @('odd*star', 'odd?q') }
        @{ Pattern = 'odd`?q'; Literal = $true; Expected = @('odd?q') }
        @{ Pattern = 'br`[a`]cket'; Literal = $true; Expected = @('br[a]cket') }
        @{ Pattern = "it's"; Literal = $true; Expected = @("it's") }                                     # quotes
        @{ Pattern = 'say "hi"'; Literal = $true; Expected = @('say "hi"') }
        @{ Pattern = 'semi;colon'; Literal = $true; Expected = @('semi;colon') }                          # a semicolon
        @{ Pattern = 'dot`.ted'; Literal = $true; Expected = @('dot.ted') }                                # an escaped dot
        @{ Pattern = "x'; DROP TABLE y; --"; Literal = $true; Expected = @() }                             # SQL is a name
        @{ Pattern = 'nosuchname'; Literal = $true; Expected = @() }
        @{ Pattern = 'nosuch*'; Literal = $false; Expected = @() }
        @{ Pattern = '{s}.audit_logs'; Literal = $true; Expected = @('audit_logs'); Qualified = $true }   # schema.table
        @{ Pattern = '{s}.a*'; Literal = $false; Expected = @('audit_logs'); Qualified = $true }
    )
    # Every selecting cmdlet and parameter, with the kind of object it selects. Pipe: how a producer's record reaches it.
    $selectors = @(
        @{ Selector = 'Get-PuoTableSize -Table'; Kind = 'Table' }
        @{ Selector = 'Get-PuoMaintenanceStatus -Table'; Kind = 'Table' }
        @{ Selector = 'Invoke-PuoAnalyze -Table'; Kind = 'Table'; Pipe = $true }
        @{ Selector = 'Invoke-PuoVacuum -Table'; Kind = 'Table'; Pipe = $true }
        @{ Selector = 'Invoke-PuoPrewarm -Table'; Kind = 'Table'; Pipe = $true }
        @{ Selector = 'Backup-PuoDatabase -Table'; Kind = 'Table' }
        @{ Selector = 'Save-PuoIncidentEvidence -Table'; Kind = 'Table' }
        @{ Selector = 'Get-PuoIndexUsage -Index'; Kind = 'Index' }
        @{ Selector = 'Get-PuoIndexBloat -Index'; Kind = 'Index' }
        @{ Selector = 'Invoke-PuoReindex -Index'; Kind = 'Index'; Pipe = $true }
        @{ Selector = 'Get-PuoContainer -Service'; Kind = 'Service'; Docker = $true }
        @{ Selector = 'Get-PuoContainerStats -Service'; Kind = 'Service'; Docker = $true }
        @{ Selector = 'Get-PuoServiceLog -Service'; Kind = 'Service'; Docker = $true }
        @{ Selector = 'Restart-PuoService -Service'; Kind = 'Service'; Docker = $true; Pipe = $true }
        @{ Selector = 'Stop-PuoService -Service'; Kind = 'Service'; Docker = $true }
        @{ Selector = 'Start-PuoService -Service'; Kind = 'Service'; Docker = $true }
        @{ Selector = 'Set-PuoServiceScale -Service'; Kind = 'Service'; Docker = $true }
        @{ Selector = 'Get-PuoProcess -Service'; Kind = 'Service'; Docker = $true }
        @{ Selector = 'Get-PuoContainerStats -Container'; Kind = 'Container'; Docker = $true }
        @{ Selector = 'Get-PuoServiceLog -Container'; Kind = 'Container'; Docker = $true }
        @{ Selector = 'Get-PuoImage -Name'; Kind = 'Image'; Docker = $true }
        @{ Selector = 'Get-PuoEnvironment -Name'; Kind = 'Environment' }
        @{ Selector = 'Get-PuoMetric -Name'; Kind = 'Metric' }
        @{ Selector = 'Disconnect-PuoEnvironment -Name'; Kind = 'Environment'; Pipe = $true }
    ) | ForEach-Object {
        $selector = $_
        $selector.Cases = @($cases | Where-Object { -not $_.Qualified -or $selector.Kind -in 'Table', 'Index' })
        $selector.PipeCases = @(if ($selector.Pipe) { @{ Producer = $selector.Kind } })
        $selector
    }
}

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $null = Connect-PuoSandbox
    $state = Get-PuoSandboxState
    $pg = $state.Postgres
    $dockerAvailable = [bool]$state.Docker.Available
    $token = 'pn' + [guid]::NewGuid().ToString('N').Substring(0, 8)
    # Every fixture holds these names; containers and images only those Docker allows, with the token in front.
    $names = 'Memories', 'memory_links', 'audit_logs', 'odd*star', 'odd?q', 'br[a]cket', "it's", 'say "hi"', 'semi;colon', 'dot.ted'
    $universe = @{
        Table = $names; Index = $names; Service = $names; Environment = $names
        Container = 'Memories', 'memory_links', 'audit_logs', 'dot.ted'
        Image = 'memory_links', 'audit_logs', 'dot.ted'
        Metric = 'Memories', 'memory_links', 'audit_logs'   # the exposition format allows only [a-zA-Z0-9_:]
    }
    $tableSchema = "${token}_tables"
    $indexSchema = "${token}_indexes"
    $project = "$token-compose"
    $backups = Join-Path ([IO.Path]::GetTempPath()) "$token-backups"
    # A saved scrape whose series carry the names a metric may have.
    $metricsFile = Join-Path ([IO.Path]::GetTempPath()) "$token-metrics.txt"
    Set-Content -LiteralPath $metricsFile -Value ($universe.Metric | ForEach-Object { "# TYPE $_ gauge`n$_ 1" })

    function Invoke-Psql([string] $Sql) {
        $env:PGPASSWORD = $pg.Password
        try { $Sql | & (Join-Path $pg.BinDir 'psql') -X -qAt -v ON_ERROR_STOP=1 -h $pg.Host -p $pg.Port -U $pg.User -d $pg.Database }
        finally { Remove-Item Env:PGPASSWORD }
        if ($LASTEXITCODE -ne 0) { throw "psql failed: $Sql" }
    }
    function Quote([string] $Name) { '"' + $Name.Replace('"', '""') + '"' }
    function Invoke-Docker {
        $output = & docker -H $state.Docker.Host @args 2>&1
        if ($LASTEXITCODE -ne 0) { throw "docker $args failed: $output" }
        $output
    }
    function ContainerName([string] $Name) {
        if ($Name -in $universe.Container) { "$token-$Name" } else { "$token-x$([array]::IndexOf($names, $Name))" }
    }
    function ServiceOfContainer([string] $Container) { $names | Where-Object { (ContainerName $_) -eq $Container } }

    # Tables named like the cases in one schema; indexes named like them in another.
    $i = 0
    Invoke-Psql ("CREATE SCHEMA $(Quote $tableSchema); CREATE SCHEMA $(Quote $indexSchema); " + (($names | ForEach-Object {
                    $i++
                    "CREATE TABLE $(Quote $tableSchema).$(Quote $_) (id int); INSERT INTO $(Quote $tableSchema).$(Quote $_) VALUES (1); " +
                    "CREATE TABLE $(Quote $indexSchema).t$i (id int); INSERT INTO $(Quote $indexSchema).t$i VALUES (1); " +
                    "CREATE INDEX $(Quote $_) ON $(Quote $indexSchema).t$i (id); "
                }) -join '') + "ANALYZE $(Quote $indexSchema).t1;")

    if ($dockerAvailable) {
        # A compose project whose services carry the names; containers and images named where Docker allows it.
        foreach ($name in $names) {
            $null = Invoke-Docker run -d --name (ContainerName $name) --network none --stop-timeout 2 `
                --label "com.docker.compose.project=$project" --label "com.docker.compose.service=$name" `
                --label 'com.docker.compose.container-number=1' --label 'com.docker.compose.oneoff=False' `
                $state.Docker.Image sh -c 'trap "exit 0" TERM; echo ready; while true; do sleep 1 & wait $!; done'
        }
        # One image per name (a label makes each distinct), so that selecting one is seen apart from the others.
        foreach ($name in $universe.Image) { $null = Invoke-Docker commit --change "LABEL puo.selection=$name" (ContainerName 'Memories') "$token-${name}:latest" }
    }

    # Environments named like the cases, in a runspace of their own so this session's default stays the sandbox.
    $iss = [initialsessionstate]::CreateDefault2()
    $iss.ImportPSModule((Join-Path $env:PUO_MODULE_PATH 'PuoOps.psd1'))
    $envRunspace = [runspacefactory]::CreateRunspace($iss)
    $envRunspace.Open()
    function Invoke-InEnvRunspace([string] $Script, [hashtable] $Arguments = @{}) {
        $shell = [powershell]::Create($envRunspace)
        try {
            $null = $shell.AddScript($Script)
            foreach ($key in $Arguments.Keys) { $null = $shell.AddParameter($key, $Arguments[$key]) }
            $output = $shell.Invoke()
            [pscustomobject]@{ Output = @($output); Errors = @($shell.Streams.Error) }
        }
        finally { $shell.Dispose() }
    }
    function Connect-TestEnvironments {
        $null = Invoke-InEnvRunspace 'param($Names, $Pg) foreach ($n in $Names) { Connect-PuoEnvironment -Name $n -DatabaseUrl $Pg -SkipCheck }' @{
            Names = @($names | ForEach-Object { "$token-$_" }); Pg = $pg.Url }
    }
    Connect-TestEnvironments

    function Expand([string] $Pattern, [string] $Schema) { $Pattern.Replace('{s}', $Schema) }

    # Each selector as a script block: the names it selected (tokens stripped) and its errors.
    $select = @{
        'Get-PuoTableSize -Table'          = { param($p) Get-PuoTableSize -Schema $tableSchema -Table (Expand $p $tableSchema) | ForEach-Object Table }
        'Get-PuoMaintenanceStatus -Table'  = { param($p) Get-PuoMaintenanceStatus -Schema $tableSchema -Table (Expand $p $tableSchema) | ForEach-Object Table }
        'Invoke-PuoAnalyze -Table'         = { param($p) Invoke-PuoAnalyze -Schema $tableSchema -Table (Expand $p $tableSchema) | ForEach-Object Table }
        'Invoke-PuoVacuum -Table'          = { param($p) Invoke-PuoVacuum -Schema $tableSchema -Table (Expand $p $tableSchema) | ForEach-Object Table }
        'Invoke-PuoPrewarm -Table'         = { param($p) Invoke-PuoPrewarm -Schema $tableSchema -Table (Expand $p $tableSchema) | ForEach-Object Table | Select-Object -Unique }
        # Backup-PuoDatabase has no -Schema: every pattern names the schema.
        'Backup-PuoDatabase -Table'        = { param($p) (Backup-PuoDatabase -Path $backups -Table ($p.Contains('{s}') ? (Expand $p $tableSchema) : "$tableSchema.$p")).Tables | ForEach-Object Name }
        # Save-PuoIncidentEvidence always dumps audit_logs too (the one on the search_path): only this schema's tables count.
        # Each call gets a folder of its own: evidence is never written into a folder that exists (two calls in one second).
        'Save-PuoIncidentEvidence -Table'  = { param($p) (Save-PuoIncidentEvidence -LogPath $metricsFile -Destination (Join-Path $backups "evidence-$([guid]::NewGuid())") -Confirm:$false `
                                                 -Table ($p.Contains('{s}') ? (Expand $p $tableSchema) : "$tableSchema.$p")).Tables |
                                                 Where-Object { $_.StartsWith("$tableSchema.") } | ForEach-Object { $_.Substring($tableSchema.Length + 1) } }
        'Get-PuoIndexUsage -Index'         = { param($p) Get-PuoIndexUsage -Schema $indexSchema -Index (Expand $p $indexSchema) | ForEach-Object Index }
        'Get-PuoIndexBloat -Index'         = { param($p) Get-PuoIndexBloat -Schema $indexSchema -Index (Expand $p $indexSchema) | ForEach-Object Index }
        'Invoke-PuoReindex -Index'         = { param($p) Invoke-PuoReindex -Schema $indexSchema -Index (Expand $p $indexSchema) -Confirm:$false | ForEach-Object Index }
        'Get-PuoContainer -Service'        = { param($p) Get-PuoContainer -Project $project -Service $p | ForEach-Object Service }
        'Get-PuoContainerStats -Service'   = { param($p) Get-PuoContainerStats -Project $project -Service $p | ForEach-Object Service }
        'Get-PuoServiceLog -Service'       = { param($p) Get-PuoServiceLog -Project $project -Service $p -Tail 1 | ForEach-Object { ServiceOfContainer $_.Container } | Select-Object -Unique }
        'Restart-PuoService -Service'      = { param($p) Restart-PuoService -Project $project -Service $p -Confirm:$false | ForEach-Object Service }
        # Stop selects; Start (of the same pattern) brings them back for the next case, selecting the same.
        'Stop-PuoService -Service'         = { param($p) Stop-PuoService -Project $project -Service $p -Confirm:$false | ForEach-Object Service
                                               $null = Start-PuoService -Project $project -Service $p -ErrorAction SilentlyContinue }
        'Start-PuoService -Service'        = { param($p) Start-PuoService -Project $project -Service $p | ForEach-Object Service }
        'Set-PuoServiceScale -Service'     = { param($p) Set-PuoServiceScale -Project $project -Service $p -Replicas 1 -Confirm:$false | ForEach-Object Service }
        'Get-PuoProcess -Service'          = { param($p) Get-PuoProcess -Service $p -All -SampleInterval 100ms | Where-Object Project -eq $project | ForEach-Object Service |
                                               Select-Object -Unique }
        'Get-PuoContainerStats -Container' = { param($p) Get-PuoContainerStats -Container "$token-$p" | ForEach-Object { $_.Name.Substring($token.Length + 1) } }
        'Get-PuoServiceLog -Container'     = { param($p) Get-PuoServiceLog -Container "$token-$p" -Tail 1 | ForEach-Object { $_.Container.Substring($token.Length + 1) } | Select-Object -Unique }
        'Get-PuoImage -Name'               = { param($p) Get-PuoImage -Name "$token-$p" | ForEach-Object Tags | Where-Object { $_ -like "$token-*:latest" } |
                                               ForEach-Object { $_.Substring($token.Length + 1) -replace ':latest$' } }
        'Get-PuoMetric -Name'              = { param($p) Get-PuoMetric -Path $metricsFile -Name $p | ForEach-Object Name }
    }

    function Invoke-Selector([string] $Selector, [string] $Pattern) {
        # Names selected (sorted, ordinal) and the error ids and categories, for one pattern.
        if ($Selector -like '*-PuoEnvironment -Name') {
            $verb = $Selector.Split(' ')[0]
            $result = Invoke-InEnvRunspace "param(`$Pattern) $verb -Name `$Pattern$(if ($verb -like 'Disconnect*') { ' -Confirm:$false' })" @{ Pattern = "$token-$Pattern" }
            $selected = if ($verb -like 'Get*') { $result.Output | ForEach-Object { $_.Name.Substring($token.Length + 1) } }
            else { $left = (Invoke-InEnvRunspace 'Get-PuoEnvironment').Output.Name; $names | Where-Object { "$token-$_" -notin $left } }
            if ($verb -like 'Disconnect*') { Connect-TestEnvironments }
            return [pscustomobject]@{ Selected = @($selected | Sort-Object -CaseSensitive); Errors = @($result.Errors) }
        }
        # Errors are collected, not thrown, whatever the caller's preference (the suite runs with Stop).
        $ErrorActionPreference = 'Continue'
        $all = @(& $select[$Selector] $Pattern 2>&1)
        [pscustomobject]@{
            Selected = @($all | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] } | Sort-Object -CaseSensitive)
            Errors   = @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
        }
    }
}

AfterAll {
    Invoke-Psql "DROP SCHEMA IF EXISTS $(Quote $tableSchema) CASCADE; DROP SCHEMA IF EXISTS $(Quote $indexSchema) CASCADE;"
    if ($dockerAvailable) {
        $ids = @(Invoke-Docker ps -aq --filter "label=com.docker.compose.project=$project")
        if ($ids) { $null = Invoke-Docker rm -f @ids }
        foreach ($name in $universe.Image) { $null = Invoke-Docker rmi "$token-${name}:latest" }
    }
    Remove-Item $backups -Recurse -Force -ErrorAction SilentlyContinue
    Remove-Item -LiteralPath $metricsFile -ErrorAction SilentlyContinue
    $envRunspace.Dispose()
}

Describe '<Selector>' -ForEach $selectors {
    BeforeAll {
        if ($Docker -and -not $dockerAvailable) { $skip = "the sandbox has no Docker engine: $((Get-PuoSandboxState).Docker.Error)" }
    }

    It "'<Pattern>'" -ForEach $Cases {
        if ($skip) { Set-ItResult -Skipped -Because $skip; return }
        $expected = @($Expected | Where-Object { $_ -in $universe[$Kind] } | Sort-Object -CaseSensitive)
        $result = Invoke-Selector $Selector $Pattern
        # Backup-PuoDatabase refuses an empty selection, whatever the pattern: pg_dump would dump everything.
        $notFound = $expected.Count -eq 0 -and ($Literal -or $Selector -eq 'Backup-PuoDatabase -Table')
        $result.Selected | Should -Be $expected -Because "'$Pattern' selects $($expected -join ', ')"
        if ($notFound) {
            $result.Errors | Should -HaveCount 1 -Because "'$Pattern' has no wildcard and matches nothing"
            $result.Errors[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        }
        else {
            $result.Errors | ForEach-Object { "$($_.FullyQualifiedErrorId): $_" } | Should -BeNullOrEmpty
        }
    }

    It 'selects exactly the records piped from its <Producer> producer, whatever characters their names hold' -ForEach $PipeCases -AllowNullOrEmptyForEach {
        if ($skip) { Set-ItResult -Skipped -Because $skip; return }
        $errors = $null
        $selected = switch ($Kind) {
            'Table' {
                $cmdlet = $Selector.Split(' ')[0]
                Get-PuoTableSize -Schema $tableSchema | & $cmdlet -Confirm:$false -ErrorVariable errors | ForEach-Object Table | Select-Object -Unique
            }
            'Index' { Get-PuoIndexUsage -Schema $indexSchema | Invoke-PuoReindex -Confirm:$false -ErrorVariable errors | ForEach-Object Index }
            'Service' { Get-PuoContainer -Project $project | Restart-PuoService -Confirm:$false -ErrorVariable errors | ForEach-Object Service }
            'Environment' {
                $result = Invoke-InEnvRunspace 'param($Token) Get-PuoEnvironment -Name "$Token-*" | Disconnect-PuoEnvironment -Confirm:$false; (Get-PuoEnvironment).Name' @{ Token = $token }
                $errors = $result.Errors
                $names | Where-Object { "$token-$_" -notin $result.Output }
                Connect-TestEnvironments
            }
        }
        @($errors) | ForEach-Object { "$($_.FullyQualifiedErrorId): $_" } | Should -BeNullOrEmpty
        @($selected | Sort-Object -CaseSensitive) | Should -Be @($names | Sort-Object -CaseSensitive)
    }
}

Describe 'A piped record that names no table' {
    It 'is an error for Invoke-PuoVacuum, never every table (the database row of Get-PuoMaintenanceStatus)' {
        $before = (Get-PuoMaintenanceStatus -Schema $tableSchema -Table memories).VacuumCount
        $database = Get-PuoMaintenanceStatus | Where-Object Scope -eq Database
        $database | Should -Not -BeNullOrEmpty
        $errors = $null
        $result = $database | Invoke-PuoVacuum -Confirm:$false -ErrorVariable errors -ErrorAction SilentlyContinue
        $result | Should -BeNullOrEmpty
        $errors | Should -HaveCount 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'PuoOps.Postgres.NoTableInRecord*'
        $errors[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        (Get-PuoMaintenanceStatus -Schema $tableSchema -Table memories).VacuumCount | Should -Be $before
    }

    It 'is an error for Invoke-PuoAnalyze and Invoke-PuoPrewarm too' {
        foreach ($consumer in 'Invoke-PuoAnalyze', 'Invoke-PuoPrewarm') {
            $errors = $null
            Get-PuoMaintenanceStatus | Where-Object Scope -eq Database | & $consumer -Confirm:$false -ErrorVariable errors -ErrorAction SilentlyContinue |
                Should -BeNullOrEmpty
            $errors[0].FullyQualifiedErrorId | Should -BeLike 'PuoOps.Postgres.NoTableInRecord*'
        }
    }
}

Describe 'String parameters bind text, never the text of another object' {
    It 'refuses a record without the property instead of acting on its ToString()' {
        $errors = $null
        Get-PuoTableSize -Schema $tableSchema -Table memories | Restart-PuoService -Confirm:$false -ErrorVariable errors -ErrorAction SilentlyContinue |
            Should -BeNullOrEmpty
        $errors | Should -HaveCount 1
        "$($errors[0])" | Should -BeLike '*TableSize is not a name*'
    }

    It 'binds the property of a custom object too' {
        ([pscustomobject]@{ Path = $backups } | Test-PuoDiskSpace).Path | Should -Be ([IO.Path]::GetFullPath($backups))
    }

    It 'still binds the property a record carries, and plain text' {
        # Get-PuoBackup's records carry Path; Get-ChildItem's carry FullName; a string is itself.
        $null = Backup-PuoDatabase -Path $backups -Table "$tableSchema.audit_logs"
        $backup = @(Get-PuoBackup -Path $backups)[0]
        $backup | Should -Not -BeNullOrEmpty
        ($backup | Test-PuoDiskSpace).Path | Should -Be $backup.Path
        (Get-Item $backup.Path | Test-PuoDiskSpace).Path | Should -Be $backup.Path
        ($backup.Path | Test-PuoDiskSpace).Path | Should -Be $backup.Path
    }
}
