# Runbook: High Latency (grep -E "duration.*[0-9]{4,}" performance_metrics.log) and Unauthorized Access Attempt
# (grep "401\|403" api_server.log, then the addresses to block), with the built module as an operator uses it:
# the help examples and what they return, errors, paging, warnings, pipeline binding, views at 80 columns, and
# memory that does not grow with the log.

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    Import-PuoModule

    function Invoke-Example([string] $Name, [int] $Index) {
        # Runs example N of the cmdlet's Get-Help here, as an operator pasting it would, and returns its output.
        $code = [string]@((Get-Help $Name -Full).examples.example)[$Index - 1].code
        & ([scriptblock]::Create($code))
    }

    function New-Log([string] $Name, [string[]] $Lines) {
        $path = Join-Path $TestDrive $Name
        [IO.File]::WriteAllText($path, ($Lines -join "`n") + "`n")
        $path
    }

    function New-RepeatedLog([string] $Path, [string] $Line, [long] $Bytes) {
        # A large log quickly: one block of lines written until the file has about $Bytes.
        $block = [Text.Encoding]::UTF8.GetBytes(($Line + "`n") * [math]::Max(1, [int](1MB / ($Line.Length + 1))))
        $stream = [IO.File]::Create($Path)
        try { for ($written = 0L; $written -lt $Bytes; $written += $block.Length) { $stream.Write($block, 0, $block.Length) } }
        finally { $stream.Dispose() }
        $Path
    }

    function Get-PeakMemoryMB([string] $Script) {
        # Peak resident memory (VmHWM) of a fresh pwsh that imports the module and runs $Script; its output first.
        $child = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$(Join-Path $env:PUO_MODULE_PATH 'PuoOps.psd1')'
$Script
[long]((Get-Content /proc/self/status | Where-Object { `$_ -like 'VmHWM:*' }) -replace '\D', '') / 1KB
"@
        $pwsh = Join-Path $PSHOME 'pwsh'
        $output = if (Test-Path $pwsh) { & $pwsh -NoProfile -NonInteractive -Command $child } else { & dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -Command $child }
        if ($LASTEXITCODE) { throw "The child pwsh failed: $output" }
        $output
    }

    $nginxLines = @(
        '203.0.113.7 - - [29/Nov/2026:10:00:01 +0000] "POST /api/auth/login HTTP/1.1" 401 52 "-" "python-requests/2.31"'
        '198.51.100.4 - - [29/Nov/2026:10:00:02 +0000] "GET /api/memories HTTP/1.1" 200 1401 "-" "curl/8.5.0"'
        '2001:db8::1 - - [29/Nov/2026:10:00:03 +0000] "GET /admin HTTP/1.1" 403 10 "-" "curl/8.5.0"'
        '203.0.113.7 - - [29/Nov/2026:10:00:04 +0000] "POST /api/auth/login HTTP/1.1" 401 52 "-" "python-requests/2.31"'
    )
}

Describe 'Search-PuoLog help examples return what they say' {
    It 'example 1: the slow lines of 1450 ms and 2.5 s, not the fast one with request=12345' {
        $found = @(Invoke-Example Search-PuoLog 1)
        $found.LineNumber | Should -Be @(2, 3)
        $found.Duration | Should -Be @([timespan]::FromMilliseconds(1450), [timespan]::FromSeconds(2.5))
        $found[0].Time.DateTime | Should -Be ([datetime]'2026-11-29 10:00:01.400')
        $found[0].PSObject.TypeNames[0] | Should -Be 'PuoOps.LogLine'
    }

    It 'example 2: only the error of the last hour, from the directory' {
        $found = @(Invoke-Example Search-PuoLog 2)
        $found.LineNumber | Should -Be @(2)
        $found[0].Line | Should -Match 'ERROR database connection refused$'
    }

    It 'example 3: the five slowest lines of the gzipped CRLF log' {
        $found = @(Invoke-Example Search-PuoLog 3)
        $found.LineNumber | Should -Be @(1000, 999, 998, 997, 996)
        $found[0].Duration | Should -Be ([timespan]::FromSeconds(3))
    }

    It 'example 4: slow lines per operation' {
        $groups = @(Invoke-Example Search-PuoLog 4)
        ($groups | ForEach-Object { "$($_.Name)=$($_.Count)" }) | Should -Be @('op=search=2', 'op=store=1')
    }
}

Describe 'Search-PuoLog as an operator uses it' {
    BeforeAll {
        $perf = New-Log 'performance_metrics.log' @(
            '2026-11-29 10:00:00,000 op=a duration=1200ms'
            '2026-11-29 10:00:01,000 op=b duration=20ms'
            '2026-11-29 10:00:02,000 op=c duration=3400ms'
            '2026-11-29 10:00:03,000 op=d took 5s'
        )
    }

    It 'pages with -Skip and -First, and counts with -IncludeTotalCount' {
        (Search-PuoLog -Path $perf -SlowerThan 1s -Skip 1 -First 1).LineNumber | Should -Be 3
        $all = @(Search-PuoLog -Path $perf -SlowerThan 1s -First 1 -IncludeTotalCount)
        $all[0].LineNumber | Should -Be 1
        [long]$all[1].PSObject.BaseObject | Should -Be 3
    }

    It 'takes files from Get-ChildItem and wildcards; a wildcard that matches nothing is no error' {
        $second = New-Log 'other.log' @('op=z duration=9s')
        $found = @(Get-ChildItem $TestDrive -Filter '*.log' | Search-PuoLog -SlowerThan 1s)
        $found.File | Select-Object -Unique | Sort-Object | Should -Be @($second, $perf | Sort-Object)
        @(Search-PuoLog -Path (Join-Path $TestDrive 'perf*.log') -SlowerThan 4s).LineNumber | Should -Be 4
        Search-PuoLog -Path (Join-Path $TestDrive 'nothing-*.log') -ErrorVariable errors | Should -BeNullOrEmpty
        $errors | Should -BeNullOrEmpty
    }

    It 'an invalid regex is InvalidArgument before anything is read' {
        $err = { Search-PuoLog -Path $perf -Pattern 'duration=(' -ErrorAction Stop } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'PuoOps.Logs.InvalidPattern,*'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
    }

    It 'a missing file is ObjectNotFound and an unreadable one PermissionDenied, each naming it; the rest is searched' {
        $missing = Join-Path $TestDrive 'missing.log'
        # Tests run as root, who may read any ordinary file; /proc/sys/vm/drop_caches is write-only for everyone.
        $found = @(Search-PuoLog -Path $missing, '/proc/sys/vm/drop_caches', $perf -SlowerThan 3s -ErrorVariable errors -ErrorAction SilentlyContinue)
        $found.LineNumber | Should -Be @(3, 4)
        $errors | Should -HaveCount 2
        $errors[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'PuoOps.Logs.NotFound,*'
        "$($errors[0])" | Should -BeLike "*$missing*"
        $errors[1].CategoryInfo.Category | Should -Be 'PermissionDenied'
        $errors[1].FullyQualifiedErrorId | Should -BeLike 'PuoOps.Logs.PermissionDenied,*'
        $errors[1].TargetObject | Should -Be '/proc/sys/vm/drop_caches'
    }

    It 'refuses -Since after -Until' {
        { Search-PuoLog -Path $perf -Since '2026-11-29T11:00:00Z' -Until '2026-11-29T10:00:00Z' -ErrorAction Stop } |
            Should -Throw -ErrorId 'PuoOps.Time.InvalidWindow*'
    }

    It 'reads well at 80 columns, grouped by file' {
        $text = Search-PuoLog -Path $perf -SlowerThan 1s | Out-String -Width 80
        $lines = $text -split "`r?`n"
        $lines | Where-Object { $_.Length -gt 80 } | Should -BeNullOrEmpty
        $text | Should -Match ([regex]::Escape("File: $perf"))
        $text | Should -Match 'LineNumber Time\s+Duration Line'
        $text | Should -Match '\s+3 11-29 10:00:02\s+3[.,]4s 2026-11-29 10:00:02,000 op=c'
    }
}

Describe 'Find-PuoAuthFailure as an operator uses it' {
    BeforeAll { $access = New-Log 'access.log' $nginxLines }

    It 'binds IpAddress by property name, as Block-PuoIpAddress -IpAddress will' {
        function Block-StandIn { param([Parameter(Mandatory, ValueFromPipelineByPropertyName)] [string[]] $IpAddress) process { $IpAddress } }
        Find-PuoAuthFailure -Path $access | Block-StandIn | Should -Be @('203.0.113.7', '2001:db8::1')
        Find-PuoAuthFailure -Path $access -Raw | Block-StandIn | Should -Be @('203.0.113.7', '2001:db8::1', '203.0.113.7')
    }

    It 'warns once at the end with the number of malformed lines, and still counts the rest' {
        $mixed = New-Log 'mixed.log' ($nginxLines + @('garbage line', '203.0.113.7 - - [29/Nov/2026:10:00:09 +0000] "GET /cut', '') + $nginxLines)
        $found = @(Find-PuoAuthFailure -Path $mixed -WarningVariable warnings -WarningAction SilentlyContinue)
        $found[0].Count | Should -Be 4
        $warnings | Should -HaveCount 1
        "$($warnings[0])" | Should -BeLike '2 of 11 line(s) were not in the nginx or JSON format*'
    }

    It 'pages the totals with -First' {
        (Find-PuoAuthFailure -Path $access -First 1).IpAddress | Should -Be '203.0.113.7'
    }

    It 'refuses a bad -TrustedProxy, -Format Regex without -Pattern and a regex without the ip group' {
        { Find-PuoAuthFailure -Path $access -TrustedProxy 'proxy.internal' -ErrorAction Stop } | Should -Throw -ErrorId 'PuoOps.Logs.InvalidProxy*'
        { Find-PuoAuthFailure -Path $access -Format Regex -ErrorAction Stop } | Should -Throw -ErrorId 'PuoOps.Logs.PatternFormat*'
        { Find-PuoAuthFailure -Path $access -Pattern '(?<status>\d+)' -ErrorAction Stop } | Should -Throw -ErrorId 'PuoOps.Logs.PatternGroups*'
    }

    It 'reads gzip access logs, and the totals and requests read well at 80 columns' {
        $gz = Join-Path $TestDrive 'access.log.1.gz'
        $gzip = [IO.Compression.GZipStream]::new([IO.File]::Create($gz), [IO.Compression.CompressionLevel]::Fastest)
        $bytes = [Text.Encoding]::UTF8.GetBytes(($nginxLines -join "`r`n") + "`r`n")
        $gzip.Write($bytes, 0, $bytes.Length)
        $gzip.Dispose()
        $totals = Find-PuoAuthFailure -Path $gz
        ($totals | ForEach-Object { "$($_.IpAddress)=$($_.Count)" }) | Should -Be @('203.0.113.7=2', '2001:db8::1=1')
        foreach ($text in ($totals | Out-String -Width 80), (Find-PuoAuthFailure -Path $gz -Raw | Out-String -Width 80)) {
            $text -split "`r?`n" | Where-Object { $_.Length -gt 80 } | Should -BeNullOrEmpty
        }
        $shown = { param($time) [regex]::Escape($time.LocalDateTime.ToString('MM-dd HH:mm:ss')) }
        $totals | Out-String -Width 80 | Should -Match ('203\.0\.113\.7\s+2\s+2\s+0 ' + (& $shown $totals[0].LastSeen) + ' /api/auth/login')
        Find-PuoAuthFailure -Path $gz -Raw | Out-String -Width 80 |
            Should -Match ((& $shown ([DateTimeOffset]'2026-11-29T10:00:03Z')) + ' 2001:db8::1\s+403 GET\s+/admin')
    }
}

Describe 'Memory does not grow with the log' {
    BeforeAll {
        $line = '2026-11-29 10:00:00,000 INFO performance op=memory.search duration=1500ms status=ok ' + ('x' * 900)
        $smallPerf = New-RepeatedLog (Join-Path $TestDrive 'small-perf.log') $line 4MB
        $largePerf = New-RepeatedLog (Join-Path $TestDrive 'large-perf.log') $line 96MB
        $request = '203.0.113.7 - - [29/Nov/2026:10:00:01 +0000] "POST /api/auth/login HTTP/1.1" 401 52 "-" "python-requests/2.31 ' + ('x' * 900) + '"'
        # 24 MB, not 4: the parallel reader's buffers grow to their bound over the first ~20 MB of a log.
        $smallAccess = New-RepeatedLog (Join-Path $TestDrive 'small-access.log') $request 24MB
        $largeAccess = New-RepeatedLog (Join-Path $TestDrive 'large-access.log') $request 96MB
    }

    It 'Search-PuoLog streams every matching line of a 96 MB log in about the memory it needs for 4 MB' {
        # Every line matches: if the lines were collected, the large run would hold ~190 MB of strings more.
        # Long lines keep the object count (and the test's time) small.
        $small = Get-PeakMemoryMB "(Search-PuoLog -Path '$smallPerf' -SlowerThan 1s | Measure-Object).Count"
        $large = Get-PeakMemoryMB "(Search-PuoLog -Path '$largePerf' -SlowerThan 1s | Measure-Object).Count"
        [long]$large[0] | Should -BeGreaterThan ([long]$small[0] * 15)
        ($large[1] - $small[1]) | Should -BeLessThan 48 -Because "peak MB was $($small[1]) for 4 MB and $($large[1]) for 96 MB"
    }

    It 'Find-PuoAuthFailure streams -Raw and totals in about the same memory for 96 MB as for 24 MB' {
        $small = Get-PeakMemoryMB "(Find-PuoAuthFailure -Path '$smallAccess' -Raw | Measure-Object).Count; (Find-PuoAuthFailure -Path '$smallAccess').Count"
        $large = Get-PeakMemoryMB "(Find-PuoAuthFailure -Path '$largeAccess' -Raw | Measure-Object).Count; (Find-PuoAuthFailure -Path '$largeAccess').Count"
        # Collected lines would hold ~140 MB of strings more for the large log.
        [long]$large[0] | Should -BeGreaterThan ([long]$small[0] * 3.5)
        [long]$large[1] | Should -Be $large[0]
        ($large[2] - $small[2]) | Should -BeLessThan 48 -Because "peak MB was $($small[2]) for 24 MB and $($large[2]) for 96 MB"
    }
}
