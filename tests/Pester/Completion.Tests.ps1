# Live tab completion, driven through TabExpansion2 as the console does: names come from the sandbox's servers, and a
# server that does not answer completes nothing, at once, without an error.

BeforeDiscovery {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    Import-PuoModule
    $script:noDocker = [bool](Get-PuoSkipReason Docker)
    # Every exported parameter that names something on the live stack.
    $named = @(Get-Command -Module PuoOps -CommandType Cmdlet | ForEach-Object {
            $command = $_
            $command.Parameters.Values | Where-Object Name -In 'Table', 'Index', 'Service', 'Container' |
                ForEach-Object { @{ Command = $command.Name; Parameter = $_.Name; Attributes = $_.Attributes } }
        })
}

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $null = Connect-PuoSandbox

    function Get-Completion([string] $Line) {
        @((TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches | ForEach-Object CompletionText)
    }
}

Describe 'Every parameter that names a live object completes' {
    It '<Command> -<Parameter> has its live completer' -ForEach $named {
        $expected = @{ Table = 'TableNameCompleter'; Index = 'IndexNameCompleter'; Service = 'ServiceNameCompleter'; Container = 'ContainerNameCompleter' }[$Parameter]
        $completer = $Attributes | Where-Object { $_ -is [System.Management.Automation.ArgumentCompleterAttribute] }
        $completer.Type.Name | Should -Be $expected
    }
}

Describe 'Completion from the sandbox' {
    It 'environment names' {
        Get-Completion 'Get-PuoTableSize -Environment sand' | Should -Contain 'sandbox'
    }

    It 'tables, from the environment''s database' {
        Get-Completion 'Get-PuoTableSize -Table mem' | Should -Be @('memories')
        Get-Completion 'Invoke-PuoVacuum -Environment sandbox -Table aud' | Should -Be @('audit_logs')
    }

    It 'indexes' {
        $index = (Get-PuoIndexUsage -Table memories | Select-Object -First 1).Index
        Get-Completion "Invoke-PuoReindex -Index $($index.Substring(0, 4))" | Should -Contain $index
    }

    It 'backups in the folder typed, newest first' {
        $folder = (New-Item -ItemType Directory -Path (Join-Path $TestDrive 'backups')).FullName
        $backup = Backup-PuoDatabase -Path $folder -Table alembic_version -Confirm:$false
        Get-Completion "Restore-PuoBackup -Path $folder/" | Should -Be @($backup.Path)
        Get-Completion "Test-PuoBackup -Path $folder/nothing-like-it" | Should -BeNullOrEmpty
    }

    It 'colours of the environment, for Switch-PuoTraffic -To and Publish-PuoDeployment -Color' {
        $null = Connect-PuoEnvironment -Name colours -Color @{ blue = '127.0.0.1:18081'; green = '127.0.0.1:18091' } -SkipCheck
        try {
            Get-Completion 'Switch-PuoTraffic -Environment colours -To gr' | Should -Be @('green')
            Get-Completion 'Publish-PuoDeployment -Environment colours -Color b' | Should -Be @('blue')
        }
        finally { Disconnect-PuoEnvironment -Name colours }
    }

    It 'compose services of the environment''s project' -Skip:$noDocker {
        $services = Get-Completion 'Restart-PuoService -Service '
        $services | Should -Contain 'api'
        $services | Should -Contain 'mcp'
        Get-Completion 'Get-PuoServiceLog -Service mc' | Should -Be @('mcp')
    }

    It 'Swarm services, besides the compose ones' -Skip:$noDocker {
        # The sandbox's engine is a single-node swarm (blue and green run on it); a service with no replicas is enough:
        # completion reads the service list, so no task needs to run.
        $docker = (Get-PuoSandboxState).Docker
        function Invoke-Docker { $out = & docker -H $docker.Host @args 2>&1; if ($LASTEXITCODE) { throw "docker $args failed: $out" }; $out }
        $name = "pester-swarm-$(Get-Random -Maximum 1000000)"
        try {
            $null = Invoke-Docker service create --detach --name $name --replicas 0 --no-resolve-image $docker.Image sleep 3600
            Get-Completion 'Set-PuoServiceScale -Service pester-swarm-' | Should -Be @($name)
            $services = Get-Completion 'Restart-PuoService -Service '
            $services | Should -Contain $name
            $services | Should -Contain 'puo-blue' -Because "the sandbox's own Swarm services are offered too"
            $services | Should -Contain 'api' -Because 'the compose services of the project are still offered'
        }
        finally {
            $null = Invoke-Docker service rm $name
        }
        Get-Completion 'Set-PuoServiceScale -Service pester-swarm-' | Should -BeNullOrEmpty -Because 'the removed service is no longer offered'
    }

    It 'containers' -Skip:$noDocker {
        $containers = Get-Completion 'Get-PuoContainerStats -Container puo-memo-'
        $containers | Should -Contain 'puo-memo-api-1'
        $containers | Should -Contain 'puo-memo-mcp-1'
    }
}

Describe 'A server that does not answer' {
    It 'completes nothing, without an error, well before -TimeoutSec (<Line>)' -ForEach @(
        @{ Line = 'Get-PuoTableSize -Environment silent -Table m' }
        @{ Line = 'Invoke-PuoReindex -Environment silent -Index m' }
        @{ Line = 'Restart-PuoService -Environment silent -Service a' }
        @{ Line = 'Get-PuoContainerStats -Environment silent -Container p' }
    ) {
        # A listener that never accepts: connections are made, and nothing ever answers.
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $listener.Start()
        $port = $listener.LocalEndpoint.Port
        $runspace = [runspacefactory]::CreateRunspace()
        $runspace.Open()
        $shell = [powershell]::Create()
        $shell.Runspace = $runspace
        try {
            $null = $shell.AddScript(@'
param($module, $port, $line)
Import-Module $module
Connect-PuoEnvironment -Name silent -DatabaseUrl "postgres://puo:x@127.0.0.1:$port/puo_memo" -DockerHost "tcp://127.0.0.1:$port" -SkipCheck
@((TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches).Count
'@).AddArgument((Join-Path $env:PUO_MODULE_PATH 'PuoOps.psd1')).AddArgument($port).AddArgument($Line)
            $async = $shell.BeginInvoke()
            # -TimeoutSec is 15 s: a completion still waiting after 5 s would be waiting on the server, not on its budget.
            $async.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(5)) | Should -BeTrue -Because 'completion must not wait for a server that does not answer'
            $count = $shell.EndInvoke($async)
            $shell.Streams.Error | Should -BeNullOrEmpty
            $count | Should -Be 0
        }
        finally {
            $shell.Dispose()
            $runspace.Dispose()
            $listener.Stop()
        }
    }
}
