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

Describe 'The help examples of the incident cmdlets, run and checked' {
    BeforeAll {
        function Invoke-Example {
            # Runs the help's example as an operator's session would: this session, the sandbox the default, no prompts.
            # Returns the output; the host's lines (the What-if messages) go to $script:shown through a transcript.
            [CmdletBinding()]
            param([string] $Cmdlet, [int] $Index)
            $code = [string]@((Get-Help $Cmdlet -Examples).examples.example)[$Index - 1].code
            $transcript = Join-Path ([IO.Path]::GetTempPath()) "pester-example-$(Get-Random).txt"
            $ConfirmPreference = 'None'
            $null = Start-Transcript -LiteralPath $transcript
            try { & ([scriptblock]::Create($code)) }
            finally {
                $null = Stop-Transcript
                $script:shown = @(Get-Content -LiteralPath $transcript)
                Remove-Item -LiteralPath $transcript
            }
        }

        function Remove-Entry([string[]] $Address) {
            # Lifts the blocks an earlier run (or Help.Tests.ps1's examples) left on these addresses, so each test starts clean.
            $entries = @($Address | Get-PuoBlockedIpAddress -ErrorAction SilentlyContinue)
            if ($entries) { $null = $entries | Unblock-PuoIpAddress -Confirm:$false }
        }

        function Get-WhatIfTarget {
            # The targets of the What-if lines the last example showed, in order.
            $script:shown | Where-Object { $_ -match '^What if: ' } | ForEach-Object { ([regex]::Match($_, 'on target "([^"]*)"')).Groups[1].Value }
        }

        $script:bruteForce = @('192.0.2.50', '198.51.100.23', '203.0.113.7')
        $script:nginxLogs = Join-Path (Split-Path $ngx.Conf) logs
    }

    AfterAll {
        Remove-Entry ($bruteForce + '2001:db8:1234::/64' + '198.18.99.0/24')
    }

    It 'Block-PuoIpAddress example 1 blocks both addresses in one reload, then unblocks them in one more, leaving the list as found' {
        Remove-Entry 203.0.113.7, 198.51.100.23
        $before = @(Get-PuoBlockedIpAddress | ForEach-Object { "$($_.IpAddress) $($_.Reason)" })
        $reloads = Get-ReloadCount
        $changes = @(Invoke-Example Block-PuoIpAddress 1)
        $changes.Action | Should -Be @('Blocked', 'Blocked', 'Unblocked', 'Unblocked')
        $changes.IpAddress | Should -Be @('203.0.113.7', '198.51.100.23', '203.0.113.7', '198.51.100.23')
        $changes[2..3].Reason | Should -Be @('Brute force on /auth', 'Brute force on /auth') # what the block had written
        Get-ReloadCount | Should -Be ($reloads + 2)
        @(Get-PuoBlockedIpAddress | ForEach-Object { "$($_.IpAddress) $($_.Reason)" }) | Should -Be $before
    }

    It 'Block-PuoIpAddress example 2 names the three brute-force addresses and changes nothing' {
        $before = [IO.File]::ReadAllBytes($ngx.BlockList)
        $reloads = Get-ReloadCount
        Invoke-Example Block-PuoIpAddress 2 | Should -BeNullOrEmpty
        Get-WhatIfTarget | Sort-Object | Should -Be ($bruteForce | ForEach-Object { "$_ (More than 100 failed logins in an hour)" })
        $shown | Where-Object { $_ -match '^What if: ' } | Should -Match 'operation "Block in nginx" on target'
        [IO.File]::ReadAllBytes($ngx.BlockList) | Should -Be $before
        Get-ReloadCount | Should -Be $reloads
    }

    It 'Block-PuoIpAddress example 3 blocks the whole /64' {
        Remove-Entry 2001:db8:1234::/64
        $change = Invoke-Example Block-PuoIpAddress 3
        $change.Action | Should -Be 'Blocked'
        $change.IpAddress | Should -Be '2001:db8:1234::/64'
        Get-Content $ngx.BlockList | Should -Contain ((Get-Content $ngx.BlockList) -like 'deny 2001:db8:1234::/64;  # *: Scanner rotating its addresses')[0]
        (Get-PuoBlockedIpAddress 2001:db8:1234::99).IpAddress | Should -Be '2001:db8:1234::/64'
    }

    It 'Block-PuoIpAddress example 4 names each address of the audit rows once, for nginx and the firewall, and changes nothing' {
        $expected = @(Get-PuoAuditLog -IpAddress 192.0.2.0/24 -Since 1h | ForEach-Object IpAddress | Sort-Object -Unique)
        $expected.Count | Should -BeGreaterThan 0
        $before = [IO.File]::ReadAllBytes($ngx.BlockList)
        Invoke-Example Block-PuoIpAddress 4 | Should -BeNullOrEmpty
        Get-WhatIfTarget | Should -Be ($expected | ForEach-Object { "$_ (Credential stuffing)" })
        $shown | Where-Object { $_ -match '^What if: ' } | Should -Match 'operation "Block in nginx and the firewall"'
        [IO.File]::ReadAllBytes($ngx.BlockList) | Should -Be $before
    }

    It 'Get-PuoBlockedIpAddress example 1 lists every entry of the file' {
        Remove-Entry 198.18.99.0/24
        $null = Block-PuoIpAddress 198.18.99.0/24 -Reason 'pester: listed' -Confirm:$false
        $entries = @(Invoke-Example Get-PuoBlockedIpAddress 1)
        $entries.Count | Should -Be @(Get-Content $ngx.BlockList | Where-Object { $_ -like 'deny *' }).Count
        $listed = $entries | Where-Object IpAddress -eq '198.18.99.0/24'
        $listed.Reason | Should -Be 'pester: listed'
        $listed.BlockedAt | Should -BeGreaterThan ([DateTimeOffset]::UtcNow.AddMinutes(-5))
        Remove-Entry 198.18.99.0/24
    }

    It 'Get-PuoBlockedIpAddress example 2 returns the entry of a blocked address and names the others as not blocked' {
        Remove-Entry $bruteForce
        $null = Block-PuoIpAddress 203.0.113.7 -Reason 'pester: already' -Confirm:$false
        $output = @(Invoke-Example Get-PuoBlockedIpAddress 2)
        $entries = @($output | Where-Object { $_ -isnot [string] })
        $entries.IpAddress | Should -Be @('203.0.113.7')
        $addresses = @(Get-PuoAuditLog -Action auth.login_failed -Since 1h | ForEach-Object IpAddress | Sort-Object -Unique)
        $output | Where-Object { $_ -is [string] } | Sort-Object | Should -Be ($addresses | Where-Object { $_ -ne '203.0.113.7' })
        Remove-Entry 203.0.113.7
    }

    It 'Get-PuoBlockedIpAddress example 3 counts the entries per reason' {
        Remove-Entry 198.18.99.0/24
        $null = '198.18.99.1', '198.18.99.2' | Block-PuoIpAddress -Reason 'pester: counted' -Confirm:$false
        $rows = @(Invoke-Example Get-PuoBlockedIpAddress 3)
        ($rows | Where-Object Name -eq 'pester: counted').Count | Should -Be 2
        ($rows | Measure-Object Count -Sum).Sum | Should -Be @(Get-PuoBlockedIpAddress).Count
        $rows.Count | Should -Be @($rows.Name | Sort-Object -Unique).Count
        Remove-Entry 198.18.99.0/24
    }

    It 'Unblock-PuoIpAddress example 1 blocks and unblocks, returning the old entry''s reason and time' {
        Remove-Entry 192.0.2.50
        $changes = @(Invoke-Example Unblock-PuoIpAddress 1)
        $changes.Action | Should -Be @('Blocked', 'Unblocked')
        $changes[1].IpAddress | Should -Be '192.0.2.50'
        $changes[1].Reason | Should -Be 'Typo: meant 192.0.2.5'
        $changes[1].BlockedAt | Should -Not -BeNullOrEmpty
        Get-Content $ngx.BlockList | Where-Object { $_ -like 'deny 192.0.2.50;*' } | Should -BeNullOrEmpty
    }

    It 'Unblock-PuoIpAddress example 2 lifts only the entries older than 30 days, in one reload' {
        Remove-Entry 198.18.99.0/24
        $null = Block-PuoIpAddress 198.18.99.2 -Reason 'pester: recent' -Confirm:$false
        # An entry as an operator's older run left it: its comment carries the time it was blocked.
        Add-Content -LiteralPath $ngx.BlockList 'deny 198.18.99.1;  # 2020-01-02T03:04:05Z by pester: pester: old'
        $reloads = Get-ReloadCount
        $changes = @(Invoke-Example Unblock-PuoIpAddress 2)
        $changes.IpAddress | Should -Be @('198.18.99.1')
        $changes.Action | Should -Be @('Unblocked')
        Get-ReloadCount | Should -Be ($reloads + 1)
        (Get-PuoBlockedIpAddress 198.18.99.0/24).IpAddress | Should -Be @('198.18.99.2')
        Remove-Entry 198.18.99.0/24
    }

    It 'Unblock-PuoIpAddress example 3 names the entries of that reason and changes nothing' {
        Remove-Entry 198.18.99.0/24
        $null = '198.18.99.3', '198.18.99.4' | Block-PuoIpAddress -Reason 'pester: brute force' -Confirm:$false
        $before = [IO.File]::ReadAllBytes($ngx.BlockList)
        $reloads = Get-ReloadCount
        Invoke-Example Unblock-PuoIpAddress 3 | Should -BeNullOrEmpty
        Get-WhatIfTarget | Should -Be @('198.18.99.3', '198.18.99.4')
        [IO.File]::ReadAllBytes($ngx.BlockList) | Should -Be $before
        Get-ReloadCount | Should -Be $reloads
        Remove-Entry 198.18.99.0/24
    }

    It 'Get-PuoAuditLog example 1 returns the auth rows of the last hour, oldest first' {
        $rows = @(Invoke-Example Get-PuoAuditLog 1)
        $rows.Count | Should -BeGreaterOrEqual 650
        $rows.Action | Sort-Object -Unique | Should -Be @('auth.login', 'auth.login_failed', 'auth.logout')
        $rows[0].CreatedAt | Should -BeGreaterThan ([DateTimeOffset]::UtcNow.AddHours(-1).AddMinutes(-1))
        $rows.CreatedAt | Should -Be ($rows.CreatedAt | Sort-Object)
    }

    It 'Get-PuoAuditLog example 2 puts the three brute-force addresses first' {
        $top = @(Invoke-Example Get-PuoAuditLog 2)
        $top.Count | Should -Be 5
        $top[0..2].Name | Sort-Object | Should -Be $bruteForce
        ($top | ForEach-Object Count)[0..2] | Should -Be @(150, 150, 150)
        $top[3].Count | Should -BeLessThan 150
    }

    It 'Get-PuoAuditLog example 3 returns ten rows of that network with the status read from the details' {
        $rows = @(Invoke-Example Get-PuoAuditLog 3)
        $rows.Count | Should -Be 10
        $rows[0].PSObject.Properties.Name | Should -Be @('CreatedAt', 'Action', 'UserId', 'Status')
        @($rows | Where-Object { $null -ne $_.Status }).Count | Should -BeGreaterThan 0
        $expected = @(Invoke-Psql "SELECT action FROM audit_logs WHERE ip_address <<= '203.0.113.0/24' AND created_at > now() - interval '24 hours' ORDER BY created_at, id LIMIT 10")
        $rows.Action | Should -Be $expected
    }

    It 'Get-PuoAuditLog example 4 writes rows 21 to 40 of the user''s week, then its total' {
        $output = @(Invoke-Example Get-PuoAuditLog 4)
        $ids = @(Invoke-Psql "SELECT id FROM audit_logs WHERE user_id = 'user_7' AND created_at > now() - interval '7 days' ORDER BY created_at, id")
        $ids.Count | Should -BeGreaterThan 20
        [long]$output[-1] | Should -Be $ids.Count
        $output[0..($output.Count - 2)].Id | Should -Be ([long[]]$ids[20..([Math]::Min(39, $ids.Count - 1))])
    }

    It 'Get-PuoAffectedUser example 1 lists the users of the runbook''s DISTINCT query of the last two hours' {
        $users = @(Invoke-Example Get-PuoAffectedUser 1)
        $users.Count | Should -BeGreaterThan 0
        $users.UserId | Should -Be @(Invoke-Psql "SELECT DISTINCT user_id FROM memories WHERE updated_at > now() - interval '2 hours' ORDER BY 1")
        $users | ForEach-Object { $_.FirstChange | Should -BeLessOrEqual $_.LastChange }
    }

    It 'Get-PuoAffectedUser example 2 writes one CSV line per user changed in that hour' {
        $csv = @(Invoke-Example Get-PuoAffectedUser 2)
        $csv[0] | Should -Be '"Environment","UserId","Rows","FirstChange","LastChange"'
        $expected = @(Invoke-Psql "SELECT DISTINCT user_id FROM memories WHERE updated_at > now() - interval '6 hours' AND updated_at <= now() - interval '5 hours' ORDER BY 1")
        $expected.Count | Should -BeGreaterThan 0
        @($csv | Select-Object -Skip 1 | ConvertFrom-Csv -Header (($csv[0] -replace '"') -split ',')).UserId | Should -Be $expected
    }

    It 'Get-PuoAffectedUser example 3 gives the audit rows of the three most active users' {
        $top = @(Get-PuoAffectedUser -Since 1h | Sort-Object Rows -Descending)
        $top.Count | Should -BeGreaterThan 0
        $rows = @(Invoke-Example Get-PuoAffectedUser 3)
        $rows | ForEach-Object { $_.GetType().Name | Should -Be 'AuditLogEntry' }
        $rows.UserId | Sort-Object -Unique | ForEach-Object { $_ | Should -BeIn $top.UserId }
        @($rows.UserId | Sort-Object -Unique).Count | Should -BeLessOrEqual 3
        $rows | ForEach-Object { $_.CreatedAt | Should -BeGreaterThan ([DateTimeOffset]::UtcNow.AddHours(-1).AddMinutes(-1)) }
    }

    It 'Save-PuoIncidentEvidence example 1 names the logs and tables and creates nothing' {
        Test-Path /srv/evidence | Should -BeFalse -Because 'the example names a destination this machine does not have'
        Invoke-Example Save-PuoIncidentEvidence 1 | Should -BeNullOrEmpty
        $line = ($shown | Where-Object { $_ -match '^What if: ' }) -join ' '
        $count = @(Get-ChildItem $nginxLogs -File -Recurse).Count
        $line | Should -Match ([regex]::Escape("Save $count log files"))
        $line | Should -Match 'pg_dump of audit_logs, memories'
        $line | Should -Match ([regex]::Escape('on target "/srv/evidence"'))
        Test-Path /srv/evidence | Should -BeFalse
    }

    It 'Save-PuoIncidentEvidence example 2 is verified by sha256sum, the archive and the dump, and leaves no folder behind' {
        $before = @(Get-ChildItem ([IO.Path]::GetTempPath()) -Directory -Filter 'incident_*').Name
        $checked = @(Invoke-Example Save-PuoIncidentEvidence 2)
        $checked.Count | Should -Be 2
        $checked[0] | Should -Match '^incident_\d{8}_\d{6}Z\.tar\.gz: OK$'
        $checked[1] | Should -Be 'audit_logs.dump: OK'
        @(Get-ChildItem ([IO.Path]::GetTempPath()) -Directory -Filter 'incident_*').Name | Should -Be $before
    }

    It 'Save-PuoIncidentEvidence example 3 checks every log file inside the archive' {
        $logs = @(Get-ChildItem $nginxLogs -File -Recurse | ForEach-Object { "logs/$([IO.Path]::GetRelativePath($nginxLogs, $_.FullName))" } | Sort-Object)
        $logs.Count | Should -BeGreaterThan 0
        $checked = @(Invoke-Example Save-PuoIncidentEvidence 3)
        $checked | ForEach-Object { $_ | Should -Match ': OK$' }
        $checked -replace ': OK$' | Sort-Object | Should -Be $logs
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
