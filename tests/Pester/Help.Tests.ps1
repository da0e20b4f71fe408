# Every example in every cmdlet's help runs against the sandbox, and its ```check block asserts the outcome the example
# describes. That help is complete (synopsis, description, parameters, two examples) is checked once, by the build
# (tools/New-PuoHelp.ps1 fails otherwise; HelpGenerator.Tests.ps1 proves it does), so it is not counted here again.

BeforeDiscovery {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    Import-Module "$PSScriptRoot/../../tools/PuoHelpSource.psm1" -Force
    Import-PuoModule
    $docs = Join-Path $PSScriptRoot '../../docs/cmdlets'
    $cmdlets = @(Get-Command -Module PuoOps -CommandType Cmdlet | Sort-Object Name)
    # Docker examples may be skipped when the sandbox has no Docker engine: those of cmdlets in src/PuoOps/Docker.
    $dockerCmdlets = @($cmdlets | Where-Object { $_.ImplementingType.Namespace -like '*.Docker' } | ForEach-Object Name)
    $problems = [System.Collections.Generic.List[string]]::new()
    $examples = foreach ($cmdlet in $cmdlets) {
        $index = 0
        foreach ($example in (Read-CmdletMarkdown (Join-Path $docs "$($cmdlet.Name).md") $cmdlet.Name $problems).Examples) {
            $index++
            if ($example.NotRun) { continue }
            $code = $example.Code
            @{
                Name       = $cmdlet.Name
                Index      = $index
                Title      = $example.Title -replace '^Example \d+:\s*'
                Code       = $code
                Setup      = $example.Setup
                Check      = $example.Check
                Cleanup    = $example.Cleanup
                UsesDocker = [bool]($dockerCmdlets | Where-Object { $code -match "\b$([regex]::Escape($_))\b" })
            }
        }
    }
}

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    Import-Module "$PSScriptRoot/../../tools/PuoHelpSource.psm1" -Force
    $null = Connect-PuoSandbox
    $docs = Join-Path $PSScriptRoot '../../docs/cmdlets'
    # What the setup, check and cleanup blocks share (ExampleHelpers.psm1), imported into every example's runspace.
    $exampleHelpers = Join-Path $PSScriptRoot ExampleHelpers.psm1
    $helperNames = @((Import-Module $exampleHelpers -PassThru -Force).ExportedFunctions.Keys)
    Remove-Module ExampleHelpers
    # The examples write backups under [IO.Path]::GetTempPath(), as an operator would: give them a temp folder of
    # their own (GetTempPath follows TMPDIR) and remove it afterwards.
    $outerTemp = $env:TMPDIR
    $env:TMPDIR = (New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) "puo-help-examples-$PID")).FullName

    # Runs in the example's runspace: the example dot-sourced (its variables stay for the check), its output kept as
    # $Output and rendered by its default view at 80 columns as $Text, the What-if lines it showed as $WhatIf. The
    # warnings it wrote become $Warnings afterwards.
    $runExample = @'
param([string] $ExampleCode, [string] $TranscriptPath)
$null = Start-Transcript -LiteralPath $TranscriptPath
try {
    $Output = @(. ([scriptblock]::Create($ExampleCode)))
    $Text = $Output | Out-String -Width 80
}
finally {
    $null = Stop-Transcript
    $WhatIf = @(Get-Content -LiteralPath $TranscriptPath | Where-Object { $_.StartsWith('What if: ') })
    Remove-Item -LiteralPath $TranscriptPath
}
'@

    function Invoke-PuoExample([string] $Code, [string] $Setup, [string] $Check, [string] $Cleanup, [int] $TimeoutSec = 120) {
        # A fresh runspace with the module imported and the sandbox as default environment, as an operator's shell
        # (plus the example helpers): setup, the example, its check, then cleanup whatever happened. Returns the error
        # records and, when all ran cleanly, each value the check produced.
        $state = [initialsessionstate]::CreateDefault2()
        $state.ImportPSModule((Join-Path $env:PUO_MODULE_PATH 'PuoOps.psd1'))
        $state.ImportPSModule($exampleHelpers)
        $runspace = [runspacefactory]::CreateRunspace($state)
        $runspace.Open()
        $shell = [powershell]::Create($runspace)
        $before = @()
        $result = [pscustomobject]@{ Errors = @(); Checks = @() }
        try {
            # -Default: an earlier example may have made another environment the default and disconnected it.
            $null = $shell.AddCommand('Connect-PuoEnvironment').AddParameters((Get-PuoSandboxConnection)).AddParameter('Default').AddParameter('ErrorAction', 'Stop').Invoke()
            $shell.Commands.Clear()
            $before = @($shell.AddScript('(Get-PuoEnvironment).Name').Invoke())
            $runspace.SessionStateProxy.SetVariable('ErrorActionPreference', 'Stop')
            $runspace.SessionStateProxy.SetVariable('ConfirmPreference', 'None')
            function Invoke-Step([string] $Script, [object[]] $Arguments) {
                # One script in the runspace, bounded by $TimeoutSec; its errors go to $result.Errors.
                $shell.Commands.Clear()
                $shell.Streams.ClearStreams()
                $null = $shell.AddScript($Script)
                foreach ($argument in $Arguments) { $null = $shell.AddArgument($argument) }
                $pending = $shell.BeginInvoke()
                if (-not $pending.AsyncWaitHandle.WaitOne([timespan]::FromSeconds($TimeoutSec))) {
                    $shell.Stop()
                    throw "The example did not finish within $TimeoutSec s."
                }
                $values = @()
                try { $values = @($shell.EndInvoke($pending)) }
                catch {
                    $thrown = $_.Exception.InnerException ?? $_.Exception
                    $result.Errors += if ($thrown -is [System.Management.Automation.IContainsErrorRecord]) { $thrown.ErrorRecord } else { $_ }
                }
                $result.Errors += @($shell.Streams.Error)
                $values
            }
            try {
                if ($Setup) { $null = Invoke-Step $Setup @() }
                if (-not $result.Errors) {
                    $null = Invoke-Step $runExample @($Code, (Join-Path ([IO.Path]::GetTempPath()) "puo-example-$(New-Guid).txt"))
                    $runspace.SessionStateProxy.SetVariable('Warnings', @($shell.Streams.Warning | ForEach-Object Message))
                }
                if ($Check -and -not $result.Errors) { $result.Checks = @(Invoke-Step $Check @()) }
            }
            finally {
                if ($Cleanup) { $null = Invoke-Step $Cleanup @() }
            }
            $result
        }
        finally {
            # Environments are process-wide: forget the ones the example connected.
            $shell.Commands.Clear()
            $runspace.SessionStateProxy.SetVariable('ErrorActionPreference', 'Continue')
            $null = $shell.AddScript('param($keep) Get-PuoEnvironment | Where-Object Name -NotIn $keep | Disconnect-PuoEnvironment -Confirm:$false').
                AddArgument($before).Invoke()
            $shell.Dispose()
            $runspace.Dispose()
        }
    }
}

Describe 'The installed help' {
    It 'is the help generated from docs/cmdlets, for every exported cmdlet' {
        # Without the MAML file Get-Help makes up a synopsis from the syntax, so compare with the source.
        $problems = [System.Collections.Generic.List[string]]::new()
        $differ = foreach ($cmdlet in Get-Command -Module PuoOps -CommandType Cmdlet) {
            $source = Read-CmdletMarkdown (Join-Path $docs "$($cmdlet.Name).md") $cmdlet.Name $problems
            if ((Get-Help $cmdlet.Name).Synopsis -ne $source.Synopsis) { $cmdlet.Name }
        }
        $problems | Should -BeNullOrEmpty
        $differ | Should -BeNullOrEmpty
    }
}

Describe '<Name> example <Index>: <Title>' -ForEach $examples {
    It 'runs and does what it says' {
        # An operator's shell has no test helpers: the example itself must run without them.
        @($helperNames | Where-Object { $Code -match "(?<![\w-])$([regex]::Escape($_))(?![\w-])" }) | Should -BeNullOrEmpty -Because "the example`n$Code`nis what Get-Help shows"
        if ($UsesDocker -and ($skip = Get-PuoSkipReason Docker)) {
            Set-ItResult -Skipped -Because $skip
            return
        }
        $result = Invoke-PuoExample $Code $Setup $Check $Cleanup
        $result.Errors | ForEach-Object { "$($_.FullyQualifiedErrorId): $_" } | Should -BeNullOrEmpty -Because "the example`n$Code`nshould run without an error"
        if ($Check) {
            # Every value the check produces is an assertion: all must be $true, and there must be at least one.
            $result.Checks.Count | Should -BeGreaterThan 0 -Because "the check`n$Check`nshould produce at least one value"
            for ($i = 0; $i -lt $result.Checks.Count; $i++) {
                $value = $result.Checks[$i]
                ($value -is [bool] -and $value) | Should -BeTrue -Because "value $($i + 1) of the check`n$Check`nafter`n$Code`nshould be `$true, not '$value'"
            }
        }
    }
}

AfterAll {
    $examplesTemp = $env:TMPDIR
    $env:TMPDIR = $outerTemp
    Remove-Item -LiteralPath $examplesTemp -Recurse -Force
}
