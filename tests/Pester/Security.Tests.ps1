# Runbook: Unauthorized Access Attempt and Data Breach Response, as an operator composes them in pwsh with the built
# module, against the sandbox's nginx (whose front server includes the block list) and database. The firewall tests run
# only inside network namespaces this file creates, never on the host's tables.

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $null = Connect-PuoSandbox
    $script:state = Get-PuoSandboxState
    $script:ngx = $state.Nginx
    $script:front = "http://127.0.0.1:$($ngx.Port)/health"

    function Invoke-Psql([string] $Sql) {
        # psql as a separate client; the password only in its own environment.
        $pg = $state.Postgres
        $env:PGPASSWORD = $pg.Password
        try { & (Join-Path $pg.BinDir 'psql') -X -qAt -v ON_ERROR_STOP=1 -h $pg.Host -p $pg.Port -U $pg.User -d $pg.Database -c $Sql }
        finally { Remove-Item Env:PGPASSWORD }
        if ($LASTEXITCODE -ne 0) { throw "psql failed: $Sql" }
    }

    function Get-StatusFrom([string] $Source) {
        # The HTTP status nginx's front server answers a request from a loopback source address.
        [int](& curl -s -o /dev/null -w '%{http_code}' --max-time 5 --interface $Source $front)
    }

    function Get-ReloadCount {
        @(Select-String -LiteralPath $ngx.ErrorLog -SimpleMatch 'signal 1 (SIGHUP) received').Count
    }
}

Describe 'Unauthorized Access Attempt: the audit trail' {
    It 'answers the runbook''s audit query with exactly the rows psql returns' {
        $since = [DateTimeOffset]::UtcNow.AddHours(-1)
        $expected = @(Invoke-Psql "SELECT id FROM audit_logs WHERE action LIKE '%auth%' AND created_at > '$($since.ToString('o'))' ORDER BY created_at, id")
        $rows = @(Get-PuoAuditLog -Action *auth* -Since $since)
        $rows.Count | Should -BeGreaterOrEqual 650
        $rows.Id | Should -Be ([long[]]$expected)
    }

    It 'finds the brute-force addresses and their rows pipe into Block-PuoIpAddress by property name' {
        $top = Get-PuoAuditLog -Action auth.login_failed -Since 1h | Group-Object IpAddress | Where-Object Count -ge 100
        $top.Name | Sort-Object | Should -Be @('192.0.2.50', '198.51.100.23', '203.0.113.7')
        $before = [IO.File]::ReadAllBytes($ngx.BlockList)
        Get-PuoAuditLog -Action auth.login_failed -IpAddress 203.0.113.7 -Since 1h | Block-PuoIpAddress -WhatIf | Should -BeNullOrEmpty
        [IO.File]::ReadAllBytes($ngx.BlockList) | Should -Be $before
    }

    It 'lists the users whose memories changed since the incident, as the runbook''s DISTINCT query does' {
        $incident = [DateTimeOffset]::UtcNow.AddHours(-2)
        $expected = @(Invoke-Psql "SELECT DISTINCT user_id FROM memories WHERE updated_at > '$($incident.ToString('o'))' ORDER BY 1")
        $users = @(Get-PuoAffectedUser -Since $incident)
        $users.UserId | Should -Be $expected
        ($users | Measure-Object Rows -Sum).Sum | Should -Be ([long](Invoke-Psql "SELECT count(*) FROM memories WHERE updated_at > '$($incident.ToString('o'))'"))
        ($users | ConvertTo-Csv -NoTypeInformation)[0] | Should -Match 'UserId.*Rows.*FirstChange.*LastChange'
    }
}

Describe 'Blocking in the sandbox nginx' {
    AfterAll {
        Get-PuoBlockedIpAddress | Where-Object Reason -like 'pester*' | Unblock-PuoIpAddress -Confirm:$false
    }

    It 'blocks a pipeline of 50 addresses with one reload: blocked sources get 403, others 200' {
        Get-StatusFrom 127.0.0.77 | Should -Be 200
        $reloads = Get-ReloadCount
        $addresses = @(1..49 | ForEach-Object { "198.18.7.$_" }) + '127.0.0.77'
        $result = $addresses | Block-PuoIpAddress -Reason 'pester: one batch' -Force -Confirm:$false
        $result.Count | Should -Be 50
        Get-ReloadCount | Should -Be ($reloads + 1)
        Get-StatusFrom 127.0.0.77 | Should -Be 403
        Get-StatusFrom 127.0.0.78 | Should -Be 200
        $line = Get-Content $ngx.BlockList | Where-Object { $_ -like 'deny 127.0.0.77;*' }
        $line | Should -Match '^deny 127\.0\.0\.77;  # \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ by \S+: pester: one batch$'
    }

    It 'unblocks them again in one reload' {
        $reloads = Get-ReloadCount
        $removed = Get-PuoBlockedIpAddress | Where-Object Reason -eq 'pester: one batch' | Unblock-PuoIpAddress -Confirm:$false
        $removed.Count | Should -Be 50
        Get-ReloadCount | Should -Be ($reloads + 1)
        Get-StatusFrom 127.0.0.77 | Should -Be 200
    }

    It 'refuses loopback and this host''s addresses without -Force and leaves the list alone' {
        $before = [IO.File]::ReadAllBytes($ngx.BlockList)
        $reloads = Get-ReloadCount
        $null = '127.0.0.77', '::1' | Block-PuoIpAddress -Reason 'pester: refused' -Confirm:$false -ErrorVariable refused -ErrorAction SilentlyContinue
        $refused.Count | Should -Be 2
        $refused.FullyQualifiedErrorId | ForEach-Object { $_ -replace ',.*' } | Should -Be @('PuoOps.Security.ProtectedAddress', 'PuoOps.Security.ProtectedAddress')
        [IO.File]::ReadAllBytes($ngx.BlockList) | Should -Be $before
        Get-ReloadCount | Should -Be $reloads
        Get-StatusFrom 127.0.0.77 | Should -Be 200
    }
}

Describe 'Find-PuoAuthFailure | Block-PuoIpAddress, the runbook''s grep and iptables as one pipeline' {
    BeforeAll {
        $script:log = Join-Path ([IO.Path]::GetTempPath()) "pester-access-$(Get-Random).log"
        $line = { param($ip, $status, $path) "$ip - - [29/Nov/2026:10:00:01 +0000] `"POST $path HTTP/1.1`" $status 5 `"-`" `"hydra`"" }
        $lines = @(1..5 | ForEach-Object { & $line 127.0.0.91 401 /auth/login }) +
            @(1..4 | ForEach-Object { & $line 198.18.50.1 403 /admin }) +
            @(& $line 198.18.50.2 401 /auth/login) + @(1..6 | ForEach-Object { & $line 198.18.50.3 200 /health })
        Set-Content -LiteralPath $log $lines
    }
    AfterAll {
        Remove-Item -LiteralPath $log
        Get-PuoBlockedIpAddress | Where-Object Reason -like 'pester*' | Unblock-PuoIpAddress -Confirm:$false
    }

    It 'blocks the addresses at the threshold in one reload, and refuses the loopback one among them without -Force' {
        $reloads = Get-ReloadCount
        $blocked = @(Find-PuoAuthFailure -Path $log -Threshold 3 |
            Block-PuoIpAddress -Reason 'pester: auth failures' -Confirm:$false -ErrorVariable refused -ErrorAction SilentlyContinue)
        $blocked.IpAddress | Should -Be @('198.18.50.1')
        $blocked.Action | Should -Be @('Blocked')
        $refused.Count | Should -Be 1
        $refused[0].FullyQualifiedErrorId | Should -BeLike 'PuoOps.Security.ProtectedAddress,*'
        $refused[0].TargetObject | Should -Be '127.0.0.91'
        Get-ReloadCount | Should -Be ($reloads + 1)
        Get-StatusFrom 127.0.0.91 | Should -Be 200

        $null = Find-PuoAuthFailure -Path $log -Threshold 5 | Block-PuoIpAddress -Reason 'pester: auth failures' -Force -Confirm:$false
        Get-StatusFrom 127.0.0.91 | Should -Be 403
        Get-StatusFrom 127.0.0.92 | Should -Be 200
        (Get-PuoBlockedIpAddress | Where-Object Reason -eq 'pester: auth failures').IpAddress | Sort-Object | Should -Be @('127.0.0.91', '198.18.50.1')
    }

    It 'refuses the proxies Find-PuoAuthFailure trusted, which its results carry, unless -Force' {
        # Behind the proxy 198.18.60.1: its own probes (no forwarded-for) count for the proxy itself, and blocking it
        # would block every client behind it. It is no loopback or host address: only the carried -TrustedProxy protects it.
        $proxyLog = Join-Path ([IO.Path]::GetTempPath()) "pester-proxy-$(Get-Random).log"
        try {
            $probe = '198.18.60.1 - - [29/Nov/2026:10:00:01 +0000] "GET /api/users/me HTTP/1.1" 401 5 "-" "probe/1" "-"'
            $attack = '198.18.60.1 - - [29/Nov/2026:10:00:02 +0000] "POST /auth/login HTTP/1.1" 401 5 "-" "hydra" "198.18.61.9"'
            Set-Content -LiteralPath $proxyLog (@($probe) * 3 + @($attack) * 3)
            $found = @(Find-PuoAuthFailure -Path $proxyLog -TrustedProxy 198.18.60.0/24)
            $found.IpAddress | Should -Be @('198.18.60.1', '198.18.61.9')
            $found.TrustedProxy | Should -Be @('198.18.60.0/24', '198.18.60.0/24')

            $reloads = Get-ReloadCount
            $blocked = @($found | Block-PuoIpAddress -Reason 'pester: behind a proxy' -Confirm:$false -ErrorVariable refused -ErrorAction SilentlyContinue)
            $blocked.IpAddress | Should -Be @('198.18.61.9')
            $refused.Count | Should -Be 1
            $refused[0].FullyQualifiedErrorId | Should -BeLike 'PuoOps.Security.ProtectedAddress,*'
            $refused[0].TargetObject | Should -Be '198.18.60.1'
            $refused[0].Exception.Message | Should -BeLike '*198.18.60.0/24 is a trusted proxy*'
            Get-ReloadCount | Should -Be ($reloads + 1)
            @(Get-PuoBlockedIpAddress | Where-Object Reason -eq 'pester: behind a proxy').IpAddress | Should -Be @('198.18.61.9')

            # -Force lifts the refusal (shown with -WhatIf, so nothing changes).
            $null = $found | Block-PuoIpAddress -Force -WhatIf -ErrorVariable forced
            $forced.Count | Should -Be 0
            Get-ReloadCount | Should -Be ($reloads + 1)
        }
        finally { Remove-Item -LiteralPath $proxyLog }
    }
}

Describe 'Block-PuoIpAddress -Firewall inside a network namespace' {
    BeforeAll {
        $script:pwshDll = Join-Path $PSHOME 'pwsh.dll'
        $script:namespaces = [System.Collections.Generic.List[string]]::new()

        function New-TestNamespace {
            # A network namespace of this test's own, with its loopback up, and a table and a rule that are not ours.
            $name = "puo-pester-$(Get-Random)"
            & ip netns add $name
            if ($LASTEXITCODE -ne 0) { throw "ip netns add $name failed (the firewall tests need root and iproute2)." }
            $namespaces.Add($name)
            & ip netns exec $name ip link set lo up
            "table inet someone_else {`n  chain input {`n    type filter hook input priority 0; policy accept;`n    tcp dport 9 counter accept`n  }`n}`n" |
                & ip netns exec $name nft -f -
            if ($LASTEXITCODE -ne 0) { throw "nft in $name failed." }
            & ip netns exec $name iptables -A INPUT -p tcp --dport 9 -j ACCEPT
            if ($LASTEXITCODE -ne 0) { throw "iptables in $name failed." }
            $name
        }

        function Invoke-InNamespace([string] $Namespace, [string] $Script, [string] $Path = $env:PATH) {
            # A fresh pwsh inside the namespace, with the module and an environment on the sandbox's nginx.
            $prelude = "`$ErrorActionPreference = 'Stop'; Import-Module '$env:PUO_MODULE_PATH/PuoOps.psd1'; " +
                "`$null = Connect-PuoEnvironment -Name ns -NginxConfig '$($ngx.Conf)' -NginxPath '$($ngx.Binary)' -SkipCheck; "
            $output = & ip netns exec $Namespace env "PATH=$Path" dotnet $pwshDll -NoProfile -NonInteractive -Command ($prelude + $Script) 2>&1
            if ($LASTEXITCODE -ne 0) { throw "pwsh in $Namespace failed: $($output -join "`n")" }
            $output
        }

        function Test-Dropped([string] $Namespace, [string] $Source) {
            # Inside the namespace nothing listens on port 1: a dropped SYN times out (curl 28), an accepted one is refused (7).
            & ip netns exec $Namespace curl -s --max-time 1 --interface $Source http://127.0.0.1:1/ | Out-Null
            switch ($LASTEXITCODE) { 28 { $true } 7 { $false } default { throw "curl in $Namespace from $Source ended with $LASTEXITCODE" } }
        }
    }

    AfterAll {
        foreach ($name in $namespaces) { & ip netns delete $name }
        Get-PuoBlockedIpAddress | Where-Object Reason -like 'pester*' | Unblock-PuoIpAddress -Confirm:$false -ErrorAction SilentlyContinue
    }

    It 'drops blocked sources with the module''s own nftables set and leaves other tables alone' {
        $ns = New-TestNamespace
        $othersBefore = (& ip netns exec $ns nft list table inet someone_else) -join "`n"
        $othersBefore | Should -Match 'tcp dport 9 counter'
        Test-Dropped $ns 127.0.0.7 | Should -BeFalse
        $reloads = Get-ReloadCount

        $null = Invoke-InNamespace $ns "Block-PuoIpAddress 127.0.0.7, 2001:db8::7 -Firewall -Force -Reason 'pester: nft' -Confirm:`$false"

        Get-ReloadCount | Should -Be ($reloads + 1) -Because 'ip netns exec runs in a mount namespace of its own, and the same nginx is reloaded'
        Get-StatusFrom 127.0.0.7 | Should -Be 403

        $table = (& ip netns exec $ns nft list table inet puoops) -join "`n"
        $table | Should -Match 'elements = \{ 127\.0\.0\.7 \}'
        $table | Should -Match 'elements = \{ 2001:db8::7 \}'
        Test-Dropped $ns 127.0.0.7 | Should -BeTrue
        Test-Dropped $ns 127.0.0.8 | Should -BeFalse
        (& ip netns exec $ns nft list table inet someone_else) -join "`n" | Should -Be $othersBefore
        (& ip netns exec $ns iptables -S INPUT) | Should -Contain '-A INPUT -p tcp -m tcp --dport 9 -j ACCEPT'
        (Get-PuoBlockedIpAddress -IpAddress 127.0.0.7).Firewall | Should -BeTrue
        & nft list table inet puoops 2>$null
        $LASTEXITCODE | Should -Not -Be 0 -Because 'the host''s own tables are never touched'

        $null = Invoke-InNamespace $ns "Unblock-PuoIpAddress 127.0.0.7, 2001:db8::7 -Confirm:`$false"
        Test-Dropped $ns 127.0.0.7 | Should -BeFalse
        ((& ip netns exec $ns nft list set inet puoops blocked4) -join "`n") | Should -Not -Match '127\.0\.0\.7'
    }

    It 'uses an iptables chain of its own where nft is missing' {
        $ns = New-TestNamespace
        $tools = Join-Path ([IO.Path]::GetTempPath()) "puo-pester-iptables-$(Get-Random)"
        $null = New-Item -ItemType Directory $tools
        try {
            foreach ($tool in 'iptables', 'iptables-restore', 'ip6tables', 'ip6tables-restore') {
                $null = New-Item -ItemType SymbolicLink -Path (Join-Path $tools $tool) -Target (Get-Command $tool).Source
            }
            $path = "${tools}:$(Split-Path (Get-Command dotnet).Source)"

            $null = Invoke-InNamespace $ns "Block-PuoIpAddress 127.0.0.9 -Firewall -Force -Reason 'pester: iptables' -Confirm:`$false" -Path $path

            (& ip netns exec $ns iptables -t raw -S PUOOPS-BLOCK) | Should -Contain '-A PUOOPS-BLOCK -s 127.0.0.9/32 -j DROP'
            (& ip netns exec $ns iptables -t raw -S PREROUTING) | Should -Contain '-A PREROUTING -j PUOOPS-BLOCK'
            (& ip netns exec $ns iptables -S INPUT) | Should -Contain '-A INPUT -p tcp -m tcp --dport 9 -j ACCEPT'
            & ip netns exec $ns nft list table inet puoops 2>$null
            $LASTEXITCODE | Should -Not -Be 0 -Because 'nft was not in PATH, so the iptables chain was used'
            Test-Dropped $ns 127.0.0.9 | Should -BeTrue

            $null = Invoke-InNamespace $ns "Unblock-PuoIpAddress 127.0.0.9 -Confirm:`$false" -Path $path
            (& ip netns exec $ns iptables -t raw -S PUOOPS-BLOCK) | Should -Be '-N PUOOPS-BLOCK'
            @(& ip netns exec $ns iptables -t raw -S PREROUTING | Where-Object { $_ -eq '-A PREROUTING -j PUOOPS-BLOCK' }).Count |
                Should -Be 1 -Because 'a second sync does not add the jump again'
            Test-Dropped $ns 127.0.0.9 | Should -BeFalse
        }
        finally { Remove-Item $tools -Recurse -Force }
    }
}

Describe 'Data Breach Response: preserve evidence' {
    BeforeAll {
        $script:work = Join-Path ([IO.Path]::GetTempPath()) "pester-evidence-$(Get-Random)"
        $null = New-Item -ItemType Directory (Join-Path $work 'logs')
    }

    AfterAll { Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue }

    It 'archives the logs and dumps audit_logs so that sha256sum -c passes beside and inside the archive' {
        Set-Content (Join-Path $work 'logs/api_server.log') ((1..2000 | ForEach-Object { "GET /memories $_ 401" }) -join "`n")
        $evidence = Save-PuoIncidentEvidence -LogPath (Join-Path $work 'logs'), (Split-Path $ngx.ErrorLog) -Table memories -Destination (Join-Path $work 'out')

        $evidence.Dumps.Name | Should -Be @('audit_logs.dump', 'memories.dump')
        $evidence.LogFiles.Name | Should -Contain 'logs/api_server.log'
        $evidence.LogFiles.Name | Should -Contain 'logs-2/error.log'
        Push-Location $evidence.Path
        try { $beside = & sha256sum -c SHA256SUMS; $LASTEXITCODE | Should -Be 0 }
        finally { Pop-Location }
        $beside.Count | Should -Be 3
        $inside = Join-Path $work 'extracted'
        $null = New-Item -ItemType Directory $inside
        & tar -xzf $evidence.Archive -C $inside
        Push-Location $inside
        try { $null = & sha256sum -c SHA256SUMS; $LASTEXITCODE | Should -Be 0 }
        finally { Pop-Location }
        (Get-Item $evidence.Path).UnixFileMode | Should -Be ([IO.UnixFileMode]'UserRead, UserWrite, UserExecute')
        (Get-ChildItem $evidence.Path).UnixFileMode | Sort-Object -Unique | Should -Be ([IO.UnixFileMode]::UserRead)
        (& pg_restore --list (Join-Path $evidence.Path 'audit_logs.dump')) -match 'TABLE DATA public audit_logs' | Should -HaveCount 1
        $evidence.Until | Should -BeGreaterThan $evidence.From
    }

    It 'refuses a log path that does not exist before creating anything' {
        { Save-PuoIncidentEvidence -LogPath (Join-Path $work 'nope') -Destination (Join-Path $work 'none') -ErrorAction Stop } |
            Should -Throw -ErrorId 'PuoOps.Security.LogPathNotFound*'
        Join-Path $work 'none' | Should -Not -Exist
    }
}
Describe 'Ctrl+C on the incident cmdlets: each stops within the deadline and leaves nothing half-done' {
    BeforeAll {
        $script:connection = Get-PuoSandboxConnection -Name 'ctrl-c'

        function Start-Run([string] $Script, [object] $Argument) {
            # $Script in a runspace of its own (module imported, sandbox connected), started without waiting; $arg is $Argument.
            $runspace = [runspacefactory]::CreateRunspace()
            $runspace.Open()
            $shell = [powershell]::Create()
            $shell.Runspace = $runspace
            $null = $shell.AddScript("param(`$module, `$connection, `$arg) Import-Module `$module; `$null = Connect-PuoEnvironment @connection -Default`n$Script").
                AddArgument((Join-Path $env:PUO_MODULE_PATH 'PuoOps.psd1')).AddArgument($connection).AddArgument($Argument)
            [pscustomobject]@{ Shell = $shell; Runspace = $runspace; Pending = $shell.BeginInvoke() }
        }

        function Wait-Until([scriptblock] $Condition, [int] $DeadlineSec = 60) {
            $deadline = [DateTime]::UtcNow.AddSeconds($DeadlineSec)
            while (-not (& $Condition) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
            [bool](& $Condition)
        }

        function Stop-Run($Run) {
            # Ctrl+C (PowerShell.Stop is what it calls); returns the state the run ended in, or 'Running' past the deadline.
            try {
                $Run.Pending.IsCompleted | Should -BeFalse -Because 'the cmdlet must still be running when Ctrl+C comes'
                $stop = $Run.Shell.BeginStop($null, $null)
                if (-not $stop.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(10))) { return 'Running' }
                "$($Run.Shell.InvocationStateInfo.State)"
            }
            finally { $Run.Shell.Dispose(); $Run.Runspace.Dispose() }
        }

        function Start-TableLock([string] $Table) {
            # A psql session that holds an exclusive lock on $Table, so that any query of it waits. Ended by Stop-TableLock.
            $pg = $state.Postgres
            $info = [Diagnostics.ProcessStartInfo]::new((Join-Path $pg.BinDir 'psql'))
            foreach ($a in '-X', '-q', '-h', $pg.Host, '-p', "$($pg.Port)", '-U', $pg.User, '-d', $pg.Database,
                '-c', "BEGIN; LOCK TABLE $Table IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);") { $info.ArgumentList.Add($a) }
            $info.Environment['PGPASSWORD'] = $pg.Password
            $info.Environment['PGAPPNAME'] = 'pester-lock'
            $info.RedirectStandardOutput = $true; $info.RedirectStandardError = $true
            $process = [Diagnostics.Process]::Start($info)
            Wait-Until { (Invoke-Psql "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'pester-lock' AND l.relation = '$Table'::regclass AND l.granted") -eq '1' } |
                Should -BeTrue
            $process
        }

        function Stop-TableLock($Process) {
            $null = Invoke-Psql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pester-lock'"
            if (-not $Process.WaitForExit(10000)) { $Process.Kill() }
            $Process.Dispose()
        }

        function Get-WaitingModuleQuery([string] $Table) {
            # The queries of $Table waiting on the server for the lock (only the cmdlet's own, in this sandbox).
            Invoke-Psql "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND wait_event_type = 'Lock' AND query ILIKE '%$Table%' AND pid <> pg_backend_pid()"
        }
    }

    It '<Cmdlet>, waiting for a locked <Table> table, stops and leaves no query behind on the server' -ForEach @(
        @{ Cmdlet = 'Get-PuoAuditLog'; Table = 'audit_logs' }
        @{ Cmdlet = 'Get-PuoAffectedUser'; Table = 'memories' }
    ) {
        $lock = Start-TableLock $Table
        try {
            $run = Start-Run "$Cmdlet -Since 30d"
            Wait-Until { (Get-WaitingModuleQuery $Table) -eq '1' } | Should -BeTrue
            Stop-Run $run | Should -Be 'Stopped'
            Wait-Until { (Get-WaitingModuleQuery $Table) -eq '0' } -DeadlineSec 10 | Should -BeTrue -Because 'Ctrl+C cancels the query on the server'
        }
        finally { Stop-TableLock $lock }
    }

    It 'Save-PuoIncidentEvidence, in the middle of a large archive, stops and leaves no evidence folder' {
        $work = Join-Path ([IO.Path]::GetTempPath()) "pester-evidence-ctrlc-$(Get-Random)"
        $null = New-Item -ItemType Directory (Join-Path $work 'logs'), (Join-Path $work 'out')
        try {
            # 384 MB that gzip cannot shrink (a random MiB repeats beyond deflate's 32 KB window): seconds to archive.
            $block = [byte[]]::new(1MB); [Random]::new(17).NextBytes($block)
            $file = [IO.File]::Create((Join-Path $work 'logs/api_server.log'))
            try { foreach ($i in 1..384) { $file.Write($block, 0, $block.Length) } } finally { $file.Dispose() }
            $run = Start-Run 'Save-PuoIncidentEvidence -LogPath $arg/logs -Destination $arg/out' $work
            # The archive is written first (the dumps after it): wait until it has begun to grow.
            Wait-Until { @(Get-ChildItem (Join-Path $work 'out') -Recurse -File -Force | Where-Object Length -gt 0).Count -gt 0 } | Should -BeTrue
            Stop-Run $run | Should -Be 'Stopped'
            @(Get-ChildItem (Join-Path $work 'out') -Force) | Should -BeNullOrEmpty -Because 'a half-written archive must not look like evidence'
        }
        finally { Remove-Item $work -Recurse -Force }
    }

    It 'Block-PuoIpAddress, in the middle of a long pipeline of addresses, stops before writing or reloading anything' {
        $before = [IO.File]::ReadAllBytes($ngx.BlockList)
        $reloads = Get-ReloadCount
        $sent = [hashtable]::Synchronized(@{ Count = 0 })
        $run = Start-Run '1..200000 | ForEach-Object { $arg.Count = $_; "198.18.$([math]::Floor($_ / 250) % 256).$($_ % 250 + 1)" } |
            Block-PuoIpAddress -Reason "pester: ctrl+c" -Force -Confirm:$false' $sent
        Wait-Until { $sent.Count -ge 1000 } | Should -BeTrue
        Stop-Run $run | Should -Be 'Stopped'
        [IO.File]::ReadAllBytes($ngx.BlockList) | Should -Be $before
        Get-ReloadCount | Should -Be $reloads
    }
}
