# The runbook's Redis procedures as pipelines in pwsh, against the sandbox Redis. Each test works on its own
# key prefix, and the FLUSHDB test on database 8 (never db 0, which holds the seeded keys other tests read).
BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    Connect-PuoSandbox -Name 'pester-redis'
    $state = Get-PuoSandboxState
    $script:Redis = $state.Redis
    Connect-PuoEnvironment -Name 'pester-redis-db8' -RedisConnectionString "$($state.Redis.ConnectionString),defaultDatabase=8" -SkipCheck -NoDefault

    function Invoke-RedisCli([string[]] $Arguments, [string] $InputText) {
        # The password goes through REDISCLI_AUTH, never on a command line.
        $env:REDISCLI_AUTH = $script:Redis.Password
        try {
            if ($InputText) { $InputText | redis-cli -h 127.0.0.1 -p $script:Redis.Port --no-auth-warning @Arguments }
            else { redis-cli -h 127.0.0.1 -p $script:Redis.Port --no-auth-warning @Arguments }
        }
        finally { Remove-Item Env:REDISCLI_AUTH }
    }

    function New-TestKeys([string] $Prefix, [int] $Count, [int] $Database = 0) {
        $lines = 1..$Count | ForEach-Object { "SET ${Prefix}:$_ v" }
        $null = Invoke-RedisCli @('-n', "$Database") ($lines -join "`n")
    }
}

AfterAll {
    Get-PuoEnvironment -Name 'pester-redis', 'pester-redis-db8' -ErrorAction Ignore | Disconnect-PuoEnvironment -Confirm:$false
}

Describe 'Redis Connection Issues' {
    It 'redis-cli ping: Test-PuoRedis is OK with a version and a latency' {
        $health = Test-PuoRedis
        $health.Status | Should -Be 'OK'
        $health.Version | Should -Match '^\d+\.'
        $health.Latency | Should -BeGreaterThan ([TimeSpan]::Zero)
    }

    It 'CONFIG GET maxmemory and INFO memory agree on the limit' {
        $config = Get-PuoRedisConfig maxmemory
        $memory = Get-PuoRedisInfo -Section memory
        [long]$config.Value | Should -Be $memory.MaxMemoryBytes
        $memory.Status | Should -Be 'OK'
        $memory.UsedPercent | Should -BeLessThan 80
    }

    It 'INFO sections filter with every other check by Status' {
        $sections = Get-PuoRedisInfo -Section memory, clients, stats
        $sections.Section | Should -Be @('memory', 'clients', 'stats')
        @($sections | Where-Object Status -ne OK).Count | Should -Be 0
        $sections[1].Fields['connected_clients'] | Should -BeGreaterThan 0
    }

    It 'clears "puo:*"-like keys by pattern, after counting them with -WhatIf' {
        $prefix = "pester:$([guid]::NewGuid().ToString('N').Substring(0, 10))"
        New-TestKeys "${prefix}:gone" 2000
        New-TestKeys "${prefix}:kept" 50
        try {
            $preview = Clear-PuoCache -Pattern "${prefix}:gone:*" -WhatIf
            $preview.Scanned | Should -Be 2000
            @(Get-PuoCacheKey "${prefix}:gone:*").Count | Should -Be 2000

            $result = Clear-PuoCache -Pattern "${prefix}:gone:*" -BatchSize 500 -Confirm:$false
            $result.Deleted | Should -Be 2000
            $result.StoppedEarly | Should -BeFalse
            @(Get-PuoCacheKey "${prefix}:gone:*").Count | Should -Be 0
            @(Get-PuoCacheKey "${prefix}:kept:*").Count | Should -Be 50
        }
        finally {
            $null = Clear-PuoCache -Pattern "${prefix}:*" -Confirm:$false
        }
    }

    It '-MaxKeys stops early and says so' {
        $prefix = "pester:$([guid]::NewGuid().ToString('N').Substring(0, 10))"
        New-TestKeys $prefix 300
        try {
            $result = Clear-PuoCache -Pattern "${prefix}:*" -MaxKeys 100 -BatchSize 50 -Confirm:$false
            $result.Deleted | Should -Be 100
            $result.StoppedEarly | Should -BeTrue
            @(Get-PuoCacheKey "${prefix}:*").Count | Should -Be 200
        }
        finally {
            $null = Clear-PuoCache -Pattern "${prefix}:*" -Confirm:$false
        }
    }

    It "refuses '*' without -Force and leaves every key" {
        $before = @(Get-PuoCacheKey 'puo:config:*').Count
        { Clear-PuoCache -Pattern '*' -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'PuoOps.Redis.PatternMatchesEverything*'
        @(Get-PuoCacheKey 'puo:config:*').Count | Should -Be $before
    }
}

Describe 'High CPU: clear a corrupted cache (FLUSHDB)' {
    It 'flushes only the environment''s own database' {
        $null = Invoke-RedisCli @('-n', '8', 'FLUSHDB')
        New-TestKeys 'pester:flush' 30 -Database 8
        $sharedBefore = (Invoke-RedisCli @('-n', '0', 'DBSIZE')) -as [long]
        (Clear-PuoCache -Environment 'pester-redis-db8' -WhatIf).Scanned | Should -Be 30
        { Clear-PuoCache -Environment 'pester-redis-db8' -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'PuoOps.Redis.FlushNeedsForce*'
        (Invoke-RedisCli @('-n', '8', 'DBSIZE')) -as [long] | Should -Be 30
        $result = Clear-PuoCache -Environment 'pester-redis-db8' -Force -Confirm:$false
        $result.Deleted | Should -Be 30
        (Invoke-RedisCli @('-n', '8', 'DBSIZE')) -as [long] | Should -Be 0
        (Invoke-RedisCli @('-n', '0', 'DBSIZE')) -as [long] | Should -BeGreaterThan ([math]::Min($sharedBefore, 1000) - 1)
    }
}

Describe 'Finding what fills Redis' {
    It 'the biggest seeded key is the set of active users' {
        $top = Get-PuoBigKey -Pattern 'puo:*' -First 3
        $top[0].Key | Should -Be 'puo:users:active'
        $top[0].MemoryBytes | Should -BeGreaterThan $top[1].MemoryBytes
    }

    It 'slow log entries come as objects' {
        $null = Invoke-RedisCli @('EVAL', "local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - s > 30000 return 1", '0', 'pester-slow')
        $entry = Get-PuoRedisSlowLog -First 128 | Where-Object { $_.Arguments -contains 'pester-slow' } | Select-Object -First 1
        $entry | Should -Not -BeNullOrEmpty
        $entry.Duration.TotalMilliseconds | Should -BeGreaterThan 10
    }
}
