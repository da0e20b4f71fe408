# Unattended and read-only use. Azure Automation and scheduled tasks run cmdlets where no one can answer a prompt:
# a High-impact cmdlet without -Confirm:$false must fail at once saying to add it, never wait. An on-call session
# connected with -ReadOnly must not change anything, whatever the cmdlet, while -WhatIf still describes.

BeforeDiscovery {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    Import-PuoModule
    # Every exported cmdlet that declares SupportsShouldProcess, but Disconnect-PuoEnvironment, which changes only the session.
    $changing = @(Get-Command -Module PuoOps -CommandType Cmdlet | Where-Object {
            $_.ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0].SupportsShouldProcess -and
            $_.Name -ne 'Disconnect-PuoEnvironment' } | ForEach-Object { @{ Name = $_.Name } })
}

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $null = Connect-PuoSandbox
    $state = Get-PuoSandboxState
    $connection = Get-PuoSandboxConnection

    function Invoke-RedisCli([string[]] $Arguments) {
        # The password goes through REDISCLI_AUTH, never on a command line.
        $env:REDISCLI_AUTH = $state.Redis.Password
        try { redis-cli -h 127.0.0.1 -p $state.Redis.Port --no-auth-warning @Arguments }
        finally { Remove-Item Env:REDISCLI_AUTH }
    }

    function New-TestKey([string] $Prefix, [int] $Count) {
        foreach ($i in 1..$Count) { $null = Invoke-RedisCli @('SET', "${Prefix}:$i", 'v') }
    }

    function Get-TestKeyCount([string] $Prefix) { @(Invoke-RedisCli @('--scan', '--pattern', "${Prefix}:*") | Where-Object { $_ }).Count }

    function Invoke-Hostless([string] $Script, [int] $DeadlineSec = 60) {
        <# Runs $Script in a runspace created with no host (as Azure Automation runs a runbook), after importing the
           module and connecting the sandbox. Waits for it up to the deadline and stops it after; returns whether it
           finished and its streams. #>
        $runspace = [runspacefactory]::CreateRunspace()
        $runspace.Open()
        $shell = [powershell]::Create()
        $shell.Runspace = $runspace
        try {
            $null = $shell.AddScript("param(`$module, `$connection) Import-Module `$module; Connect-PuoEnvironment @connection`n$Script").
                AddArgument((Join-Path $env:PUO_MODULE_PATH 'PuoOps.psd1')).AddArgument($connection)
            $async = $shell.BeginInvoke()
            $finished = $async.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds($DeadlineSec))
            if (-not $finished) { $shell.Stop() }
            $output = if ($finished) { try { $shell.EndInvoke($async) } catch { $null } }
            [pscustomobject]@{
                Finished = $finished; Output = @($output); Errors = @($shell.Streams.Error)
                Verbose = @($shell.Streams.Verbose); Progress = @($shell.Streams.Progress)
            }
        }
        finally { $shell.Dispose(); $runspace.Dispose() }
    }

    function Invoke-ChildPwsh([string] $Script, [switch] $Interactive) {
        <# A new pwsh that imports the module and connects the sandbox, then runs $Script. -Interactive leaves out
           -NonInteractive and gives it an input pipe that stays open and silent, as a scheduled task's console has:
           a prompt there would wait forever. Returns its exit code, output and errors once it exits (60 s deadline). #>
        $info = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
        foreach ($argument in @("$PSHOME/pwsh.dll", '-NoProfile') + $(if (-not $Interactive) { '-NonInteractive' }) + '-Command', '-') { $info.ArgumentList.Add($argument) }
        $info.RedirectStandardInput = $true; $info.RedirectStandardOutput = $true; $info.RedirectStandardError = $true
        $process = [System.Diagnostics.Process]::Start($info)
        try {
            $json = ($connection | ConvertTo-Json -Compress) -replace "'", "''"
            # With -Command -, pwsh reads the script from the input; a blank line ends each statement, and the pipe stays open.
            $process.StandardInput.WriteLine("`$connection = '$json' | ConvertFrom-Json -AsHashtable; Import-Module '$env:PUO_MODULE_PATH/PuoOps.psd1'; Connect-PuoEnvironment @connection")
            $process.StandardInput.WriteLine($Script)
            $process.StandardInput.WriteLine('exit $(if ($Error.Count) { 1 } else { 0 })')
            $process.StandardInput.WriteLine()
            if (-not $Interactive) { $process.StandardInput.Close() }
            $output = $process.StandardOutput.ReadToEndAsync()
            $errors = $process.StandardError.ReadToEndAsync()
            $exited = $process.WaitForExit(60000)
            if (-not $exited) { $process.Kill($true) }
            [pscustomobject]@{ Exited = $exited; ExitCode = $(if ($exited) { $process.ExitCode }); Output = $output.Result; Errors = $errors.Result }
        }
        finally { $process.Dispose() }
    }
}

AfterAll {
    # The keys the tests made: those the refusals were meant to leave.
    $left = @(Invoke-RedisCli @('--scan', '--pattern', 'pester-unattended-*') | Where-Object { $_ })
    if ($left) { $null = Invoke-RedisCli (@('DEL') + $left) }
}

Describe 'A runspace with no host UI' {
    It 'a High-impact cmdlet without -Confirm:$false fails at once, saying to add it, and changes nothing' {
        New-TestKey 'pester-unattended-hostless-ask' 3
        $run = Invoke-Hostless "Clear-PuoCache -Pattern 'pester-unattended-hostless-ask:*'"
        $run.Finished | Should -BeTrue -Because 'a prompt no one can answer must fail, not wait'
        $run.Errors | Should -HaveCount 1
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'PuoOps.Core.ConfirmationUnavailable,*'
        $run.Errors[0].Exception.Message | Should -Match ([regex]::Escape('-Confirm:$false'))
        $run.Output | Should -BeNullOrEmpty
        Get-TestKeyCount 'pester-unattended-hostless-ask' | Should -Be 3
    }

    It 'with -Confirm:$false the cmdlet runs' {
        New-TestKey 'pester-unattended-hostless-run' 3
        $run = Invoke-Hostless "Clear-PuoCache -Pattern 'pester-unattended-hostless-run:*' -Confirm:`$false"
        $run.Finished | Should -BeTrue
        $run.Errors | Should -BeNullOrEmpty
        $run.Output[0].Deleted | Should -Be 3
        Get-TestKeyCount 'pester-unattended-hostless-run' | Should -Be 0
    }

    It 'an extra confirmation (VACUUM FULL) fails at once too, saying to add -Force; -Force -Confirm:$false answers it' {
        $asked = Invoke-Hostless "Invoke-PuoVacuum -Table alembic_version -Full"
        $asked.Finished | Should -BeTrue
        $asked.Errors[0].FullyQualifiedErrorId | Should -BeLike 'PuoOps.Core.ConfirmationUnavailable,*'
        $asked.Output | Should -BeNullOrEmpty
        $second = Invoke-Hostless "Invoke-PuoVacuum -Table alembic_version -Full -Confirm:`$false"
        $second.Errors[0].FullyQualifiedErrorId | Should -BeLike 'PuoOps.Core.ConfirmationUnavailable,*'
        $second.Errors[0].Exception.Message | Should -BeLike '*Add -Force*'
        $second.Output | Should -BeNullOrEmpty
        $answered = Invoke-Hostless "Invoke-PuoVacuum -Table alembic_version -Full -Force -Confirm:`$false"
        $answered.Errors | Should -BeNullOrEmpty
        $answered.Output.Table | Should -Be 'alembic_version'
    }

    It 'Progress and Verbose do not break it' {
        $run = Invoke-Hostless "`$ProgressPreference = 'Continue'; Invoke-PuoVacuum -Table memories -Analyze -Verbose"
        $run.Finished | Should -BeTrue
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -HaveCount 1
        $run.Output[0].Table | Should -Be 'memories'
        $run.Progress.Count | Should -BeGreaterThan 0 -Because 'the vacuum reported its progress'
        $run.Verbose.Count | Should -BeGreaterThan 0
    }
}

Describe 'A console whose input is not a terminal (a scheduled task without -NonInteractive)' {
    It 'runs under a script''s own $ConfirmPreference = ''None'', as under -Confirm:$false' {
        New-TestKey 'pester-unattended-console-none' 2
        $run = Invoke-ChildPwsh -Interactive "& { `$ConfirmPreference = 'None'; Clear-PuoCache -Pattern 'pester-unattended-console-none:*' }"
        $run.Exited | Should -BeTrue
        $run.Errors | Should -BeNullOrEmpty
        Get-TestKeyCount 'pester-unattended-console-none' | Should -Be 0
    }

    It 'fails at once with a High-impact cmdlet, saying to add -Confirm:$false, instead of waiting for an answer' {
        New-TestKey 'pester-unattended-console-ask' 2
        $run = Invoke-ChildPwsh -Interactive "Clear-PuoCache -Pattern 'pester-unattended-console-ask:*'"
        $run.Exited | Should -BeTrue -Because 'the prompt must fail, not wait for input that never comes'
        $run.ExitCode | Should -Be 1
        $run.Errors | Should -Match ([regex]::Escape('-Confirm:$false'))
        Get-TestKeyCount 'pester-unattended-console-ask' | Should -Be 2
    }
}

Describe 'Connect-PuoEnvironment -ReadOnly' {
    BeforeAll {
        $readOnly = Connect-PuoEnvironment @connection -Name 'pester-readonly' -ReadOnly -PassThru

        function Get-ProbeArgument([System.Management.Automation.CommandInfo] $Command) {
            # Values for the mandatory parameters of the default parameter set, valid for its validation attributes.
            $set = @($Command.ParameterSets | Where-Object IsDefault) + @($Command.ParameterSets) | Select-Object -First 1
            $arguments = @{}
            foreach ($parameter in $set.Parameters | Where-Object IsMandatory) {
                $validSet = $parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] } | Select-Object -First 1
                $range = $parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateRangeAttribute] } | Select-Object -First 1
                $type = $parameter.ParameterType
                $element = if ($type.IsArray) { $type.GetElementType() } else { $type }
                $arguments[$parameter.Name] = if ($validSet) { $validSet.ValidValues[0] }
                elseif ($range -and $range.MinRange -ne $null) { $range.MinRange }
                elseif ($element -eq [string]) { 'pester-readonly-probe' }
                elseif ($element -eq [switch]) { [switch]::Present }
                elseif ($element.IsEnum) { [Enum]::GetValues($element)[0] }
                elseif ($element -eq [timespan]) { [timespan]::FromSeconds(1) }
                elseif ($element.IsPrimitive) { [Convert]::ChangeType(1, $element) }
                else { throw "No probe value for -$($parameter.Name) ($type) of $($Command.Name)." }
            }
            $arguments
        }
    }

    AfterAll {
        Disconnect-PuoEnvironment -Name 'pester-readonly' -Confirm:$false -ErrorAction SilentlyContinue
    }

    It 'shows as ReadOnly, and an environment made from it stays read-only' {
        (Get-PuoEnvironment -Name 'pester-readonly').ReadOnly | Should -BeTrue
        (Get-PuoEnvironment -Name 'sandbox').ReadOnly | Should -BeFalse
        $derived = Connect-PuoEnvironment -Name 'pester-readonly-derived' -Environment $readOnly -SkipCheck -PassThru
        try { $derived.ReadOnly | Should -BeTrue }
        finally { Disconnect-PuoEnvironment -Name 'pester-readonly-derived' -Confirm:$false }
    }

    It '<Name> refuses against it even with -Confirm:$false (PermissionDenied, naming the environment and the cmdlet)' -ForEach $changing {
        $arguments = Get-ProbeArgument (Get-Command $Name)
        $failure = $null
        try { $output = & $Name @arguments -Environment 'pester-readonly' -Confirm:$false -ErrorAction Stop }
        catch { $failure = $_ }
        $failure | Should -Not -BeNullOrEmpty -Because "$Name must refuse a read-only environment"
        $failure.FullyQualifiedErrorId | Should -BeLike "PuoOps.Environment.ReadOnly,*"
        $failure.CategoryInfo.Category | Should -Be 'PermissionDenied'
        $failure.Exception.Message | Should -Match "'pester-readonly'"
        $failure.Exception.Message | Should -Match ([regex]::Escape($Name))
        $output | Should -BeNullOrEmpty
    }

    It 'refuses and changes nothing: Clear-PuoCache -Confirm:$false leaves the keys' {
        New-TestKey 'pester-unattended-readonly-keys' 3
        { Clear-PuoCache -Pattern 'pester-unattended-readonly-keys:*' -Environment 'pester-readonly' -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'PuoOps.Environment.ReadOnly,*'
        Get-TestKeyCount 'pester-unattended-readonly-keys' | Should -Be 3
    }

    It 'refuses a record piped in from it when the change is asked for' {
        $failure = $null
        try { $output = [pscustomobject]@{ Environment = 'pester-readonly'; Table = 'memories' } | Invoke-PuoAnalyze -Confirm:$false -ErrorAction Stop }
        catch { $failure = $_ }
        $failure.FullyQualifiedErrorId | Should -BeLike 'PuoOps.Environment.ReadOnly,*'
        $output | Should -BeNullOrEmpty
    }

    It 'still describes with -WhatIf, and changes nothing' {
        New-TestKey 'pester-unattended-readonly-whatif' 2
        $run = Invoke-ChildPwsh "Connect-PuoEnvironment @connection -Name ro -ReadOnly -Default; Clear-PuoCache -Pattern 'pester-unattended-readonly-whatif:*' -WhatIf | ForEach-Object { 'would delete ' + `$_.Scanned }"
        $run.Exited | Should -BeTrue
        $run.Errors | Should -BeNullOrEmpty
        $run.ExitCode | Should -Be 0
        $run.Output | Should -Match "What if: .*pester-unattended-readonly-whatif"
        $run.Output | Should -Match 'would delete 2'
        Get-TestKeyCount 'pester-unattended-readonly-whatif' | Should -Be 2
    }

    It 'Disconnect-PuoEnvironment needs no environment to ask about: it disconnects the default and then the next' {
        $run = Invoke-Hostless "Connect-PuoEnvironment @connection -Name second -ReadOnly -SkipCheck; Disconnect-PuoEnvironment -Name sandbox, second -Confirm:`$false; @(Get-PuoEnvironment).Count"
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -Be @(0)
    }

    It 'can still be disconnected: that changes only the session' {
        $null = Connect-PuoEnvironment @connection -Name 'pester-readonly-gone' -ReadOnly -SkipCheck
        Disconnect-PuoEnvironment -Name 'pester-readonly-gone' -Confirm:$false
        Get-PuoEnvironment -Name 'pester-readonly-*' | ForEach-Object Name | Should -Not -Contain 'pester-readonly-gone'
    }
}
