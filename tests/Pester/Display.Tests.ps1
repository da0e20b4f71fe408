# The module's shared presentation and input helpers, as views and parameters use them from PowerShell.

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    Import-PuoModule
    # A function with the module's time parameters, bound as any PuoOps cmdlet binds them.
    function Get-Window {
        param([PuoOps.Commands.TimeWindow()] [Nullable[DateTimeOffset]] $Since, [PuoOps.Commands.Duration()] [TimeSpan] $Duration)
        [pscustomobject]@{ Since = $Since; Duration = $Duration }
    }
}

Describe 'Display' {
    It 'shows <Bytes> bytes as <Text>' -ForEach @(
        @{ Bytes = 0; Text = '0 B' }, @{ Bytes = 1023; Text = '1023 B' }, @{ Bytes = 1536; Text = '1.50 KiB' }
        @{ Bytes = 10MB; Text = '10.0 MiB' }, @{ Bytes = 500GB; Text = '500 GiB' }, @{ Bytes = -1; Text = '' }
    ) {
        [PuoOps.Commands.Display]::Bytes($Bytes) | Should -Be ($Text -replace '\.', [cultureinfo]::CurrentCulture.NumberFormat.NumberDecimalSeparator)
    }

    It 'shows <Span> as <Text>' -ForEach @(
        @{ Span = [timespan]::FromMilliseconds(850); Text = '850ms' }, @{ Span = [timespan]::FromSeconds(4.25); Text = '4.3s' }
        @{ Span = [timespan]::FromSeconds(125); Text = '2m05s' }, @{ Span = [timespan]::FromMinutes(187); Text = '3h07m' }
        @{ Span = [timespan]::FromHours(52); Text = '2d04h' }
    ) {
        [PuoOps.Commands.Display]::Duration($Span) | Should -Be ($Text -replace '\.', [cultureinfo]::CurrentCulture.NumberFormat.NumberDecimalSeparator)
    }
}

Describe 'Display.Wrap' {
    It 'wraps <Text> at <Width> as <Lines>' -ForEach @(
        @{ Text = 'Accepting connections.'; Width = 25; Lines = @('Accepting connections.') }
        @{ Text = 'HTTP 503 Service Unavailable; status is "starting".'; Width = 20; Lines = @('HTTP 503 Service', 'Unavailable; status', 'is "starting".') }
        @{ Text = "SELECT  pg_sleep(60)`n FROM x"; Width = 12; Lines = @('SELECT', 'pg_sleep(60)', 'FROM x') }
        @{ Text = '/var/a-very-long-path-without-spaces'; Width = 10; Lines = @('/var/a-ver', 'y-long-pat', 'h-without-', 'spaces') }
        @{ Text = ''; Width = 10; Lines = @('') }
    ) {
        [PuoOps.Commands.Display]::Wrap($Text, $Width) -split "`n" | Should -Be $Lines
    }

    It 'cuts after -MaxLines lines with an ellipsis' {
        [PuoOps.Commands.Display]::Wrap('one two three four five six', 9, 2) -split "`n" | Should -Be @('one two', 'three…')
        [PuoOps.Commands.Display]::Wrap('one two three', 9, 2) -split "`n" | Should -Be @('one two', 'three')
    }
}

Describe 'Time parameters' {
    It '-Since 1h is an hour before now' {
        $before = [DateTimeOffset]::Now
        $since = (Get-Window -Since 1h).Since
        ($before - $since).TotalMinutes | Should -BeGreaterOrEqual 59.9
        ($before - $since).TotalMinutes | Should -BeLessOrEqual 61
    }

    It '-Since takes a TimeSpan, a DateTime and a date string' {
        ([DateTimeOffset]::Now - (Get-Window -Since (New-TimeSpan -Minutes 30)).Since).TotalMinutes | Should -BeGreaterOrEqual 29.9
        (Get-Window -Since ([datetime]'2026-01-02 03:04:05')).Since.DateTime | Should -Be ([datetime]'2026-01-02 03:04:05')
        (Get-Window -Since '2026-11-28T09:30:00Z').Since | Should -Be ([DateTimeOffset]::new(2026, 11, 28, 9, 30, 0, [timespan]::Zero))
    }

    It 'refuses a bare number with a message that shows the accepted spellings' {
        { Get-Window -Since 12 } | Should -Throw -ExpectedMessage '*12 is a bare number, not a point in time*'
        ([DateTimeOffset]::Now - (Get-Window -Since 2d).Since).TotalHours | Should -BeGreaterOrEqual 47.9   # 2d reaches it as the decimal 2
        { Get-Window -Since 'soonish' } | Should -Throw -ExpectedMessage '*neither a date nor a duration*'
    }

    It 'reads 30s and 2d as seconds and days, though PowerShell parses them as the numbers 30 (Int16) and 2 (decimal)' {
        (Get-Window -Duration 30s).Duration | Should -Be ([timespan]::FromSeconds(30))
        (Get-Window -Duration 2d).Duration | Should -Be ([timespan]::FromDays(2))
        ([DateTimeOffset]::Now - (Get-Window -Since 90s).Since).TotalSeconds | Should -BeGreaterOrEqual 89.9
        ([DateTimeOffset]::Now - (Get-Window -Since 1d).Since).TotalHours | Should -BeGreaterOrEqual 23.99
    }

    It 'refuses a duration that is a bare number rather than reading it as ticks' {
        { Get-Window -Duration 5 } | Should -Throw -ExpectedMessage '*with its unit*not the bare number 5*'
    }

    It 'reads durations like 500ms, 1h30m and 00:00:05' {
        (Get-Window -Duration 500ms).Duration | Should -Be ([timespan]::FromMilliseconds(500))
        (Get-Window -Duration '1h30m').Duration | Should -Be ([timespan]::FromMinutes(90))
        (Get-Window -Duration '00:00:05').Duration | Should -Be ([timespan]::FromSeconds(5))
        { Get-Window -Duration 'fortnight' } | Should -Throw -ExpectedMessage '*is not a duration*'
    }

    It 'reads the unquoted 90s and 2d, which PowerShell parses as numbers (Int16, Decimal), as seconds and days' {
        (Get-Window -Duration 90s).Duration | Should -Be ([timespan]::FromSeconds(90))
        (Get-Window -Duration 2d).Duration | Should -Be ([timespan]::FromDays(2))
        ([DateTimeOffset]::Now - (Get-Window -Since 1s).Since).TotalSeconds | Should -BeGreaterOrEqual 0.9
        ([DateTimeOffset]::Now - (Get-Window -Since 2d).Since).TotalHours | Should -BeGreaterOrEqual 47.9
        { Get-Window -Duration 5 } | Should -Throw -ExpectedMessage '*with its unit*'
    }
}

Describe 'Duration parameters and bare numbers' {
    BeforeAll {
        function Get-Span { param([PuoOps.Commands.Duration()] [TimeSpan] $Duration) $Duration }
    }

    It 'reads an unquoted 90s and 2d (the numbers PowerShell makes of them) by their unit, 0 as zero, and refuses other bare numbers' {
        Get-Span -Duration 90s | Should -Be ([timespan]::FromSeconds(90))
        Get-Span -Duration 2d | Should -Be ([timespan]::FromDays(2))
        Get-Span -Duration '90s' | Should -Be ([timespan]::FromSeconds(90))
        Get-Span -Duration 0 | Should -Be ([timespan]::Zero)
        { Get-Span -Duration 12 } | Should -Throw -ExpectedMessage '*not the bare number 12*'
    }
}
