# Every exported cmdlet's Get-Help is complete (it comes from docs/cmdlets via tools/New-PuoHelp.ps1), and every
# example in it runs against the sandbox without an error.

BeforeDiscovery {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    Import-PuoModule
    $cmdlets = @(Get-Command -Module PuoOps -CommandType Cmdlet | Sort-Object Name)
    # Docker examples may be skipped when the sandbox has no Docker engine: those of cmdlets in src/PuoOps/Docker.
    $dockerCmdlets = @($cmdlets | Where-Object { $_.ImplementingType.Namespace -like '*.Docker' } | ForEach-Object Name)
    $commands = foreach ($cmdlet in $cmdlets) {
        $index = 0
        @{
            Name       = $cmdlet.Name
            Parameters = @($cmdlet.Parameters.Keys | Where-Object { $_ -notin [System.Management.Automation.PSCmdlet]::CommonParameters })
            Examples   = @((Get-Help $cmdlet.Name -Full).examples.example | Where-Object { $_ } | ForEach-Object {
                    $code = [string]$_.code
                    @{
                        Index     = ++$index
                        Title     = ([string]$_.title).Trim(' -')
                        Code      = $code
                        UsesDocker = [bool]($dockerCmdlets | Where-Object { $code -match "\b$([regex]::Escape($_))\b" })
                    }
                })
        }
    }
}

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $null = Connect-PuoSandbox
    $docs = Join-Path $PSScriptRoot '../../docs/cmdlets'
    # The examples write backups under [IO.Path]::GetTempPath(), as an operator would: give them a temp folder of
    # their own (GetTempPath follows TMPDIR) and remove it afterwards.
    $outerTemp = $env:TMPDIR
    $env:TMPDIR = (New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) "puo-help-examples-$PID")).FullName

    function Get-MarkdownSection([string] $Name, [string] $Section) {
        # The text of '## <Section>' in docs/cmdlets/<Name>.md, lines joined as Get-Help shows them.
        $lines = Get-Content (Join-Path $docs "$Name.md")
        $start = [array]::IndexOf($lines, "## $Section")
        if ($start -lt 0) { return '' }
        $end = $start + 1
        while ($end -lt $lines.Count -and -not $lines[$end].StartsWith('## ')) { $end++ }
        (($lines[($start + 1)..($end - 1)] | ForEach-Object Trim) -join ' ').Trim()
    }

    function Invoke-PuoExample([string] $Code, [int] $TimeoutSec = 120) {
        # A fresh runspace with the module imported and the sandbox as default environment, as an operator's shell.
        # Output goes through Out-String so the format views run too. Returns the error records, if any.
        $state = [initialsessionstate]::CreateDefault2()
        $state.ImportPSModule((Join-Path $env:PUO_MODULE_PATH 'PuoOps.psd1'))
        $runspace = [runspacefactory]::CreateRunspace($state)
        $runspace.Open()
        $shell = [powershell]::Create($runspace)
        $before = @()
        try {
            $null = $shell.AddCommand('Connect-PuoEnvironment').AddParameters((Get-PuoSandboxConnection)).AddParameter('ErrorAction', 'Stop').Invoke()
            $shell.Commands.Clear()
            $before = @($shell.AddScript('(Get-PuoEnvironment).Name').Invoke())
            $runspace.SessionStateProxy.SetVariable('ErrorActionPreference', 'Stop')
            $runspace.SessionStateProxy.SetVariable('ConfirmPreference', 'None')
            $shell.Commands.Clear()
            $null = $shell.AddScript($Code).AddCommand('Out-String')
            $pending = $shell.BeginInvoke()
            if (-not $pending.AsyncWaitHandle.WaitOne([timespan]::FromSeconds($TimeoutSec))) {
                $shell.Stop()
                throw "The example did not finish within $TimeoutSec s."
            }
            $errors = @()
            try { $null = $shell.EndInvoke($pending) }
            catch {
                $thrown = $_.Exception.InnerException ?? $_.Exception
                $errors += if ($thrown -is [System.Management.Automation.IContainsErrorRecord]) { $thrown.ErrorRecord } else { $_ }
            }
            $errors += @($shell.Streams.Error)
            $errors
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

Describe 'Get-Help <Name>' -ForEach $commands {
    BeforeAll {
        $help = Get-Help $Name -Full
        $command = Get-Command $Name
    }

    It 'has the synopsis of docs/cmdlets/<Name>.md' {
        # Without the MAML file Get-Help makes up a synopsis from the syntax, so compare with the source.
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Be (Get-MarkdownSection $Name 'SYNOPSIS')
    }

    It 'has a description' {
        ($help.description.Text -join ' ') | Should -Not -BeNullOrEmpty
    }

    It 'has at least two examples, each with code' {
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        foreach ($example in $help.examples.example) { [string]$example.code | Should -Not -BeNullOrEmpty }
    }

    It 'has one syntax item per parameter set, with the set''s parameters' {
        $items = @($help.syntax.syntaxItem)
        $items.Count | Should -Be $command.ParameterSets.Count
        foreach ($set in $command.ParameterSets) {
            $expected = @($set.Parameters.Name | Where-Object { $_ -notin [System.Management.Automation.PSCmdlet]::CommonParameters } | Sort-Object)
            $matching = $items | Where-Object { (@($_.parameter.name | Sort-Object) -join ',') -eq ($expected -join ',') }
            $matching | Should -Not -BeNullOrEmpty -Because "parameter set '$($set.Name)' should appear in SYNTAX as $($expected -join ', ')"
        }
    }

    It 'describes -<_>' -ForEach $Parameters -AllowNullOrEmptyForEach {
        $parameterHelp = Get-Help $Name -Parameter $_
        ($parameterHelp.description.Text -join ' ') | Should -Not -BeNullOrEmpty
    }

    Context 'examples' {
        It 'example <Index> runs: <Title>' -ForEach $Examples -AllowNullOrEmptyForEach {
            if ($UsesDocker -and ($skip = Get-PuoSkipReason Docker)) {
                Set-ItResult -Skipped -Because $skip
                return
            }
            $errors = Invoke-PuoExample $Code
            $errors | ForEach-Object { "$($_.FullyQualifiedErrorId): $_" } | Should -BeNullOrEmpty -Because "the example`n$Code`nshould run without an error"
        }
    }
}

AfterAll {
    $examplesTemp = $env:TMPDIR
    $env:TMPDIR = $outerTemp
    Remove-Item -LiteralPath $examplesTemp -Recurse -Force
}
