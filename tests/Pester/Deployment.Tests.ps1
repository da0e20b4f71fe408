# Runbook: Blue-Green Deployment, as an operator runs it in pwsh with the built module, against the sandbox: nginx's front
# server proxies to the upstream of active.conf (the traffic file), and blue and green are the sandbox's Swarm services
# (busybox httpd, tests/Sandbox/color-httpd.sh), found by their puo.color labels. curl is the independent client that
# checks what nginx serves. Pairs of their own (Publish-PuoDeployment -Image, docker stack deploy) are tested in
# tests/PuoOps.Tests/Deployment; a host without Swarm (containers as colours, Publish-PuoDeployment -ComposeFile running
# docker compose up, on an engine this file starts) at the end of this file.

BeforeDiscovery {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $script:noDocker = [bool](Get-PuoSkipReason Docker)
}

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $null = Connect-PuoSandbox
    $script:ngx = (Get-PuoSandboxState).Nginx
    $script:history = Join-Path (Split-Path $ngx.ActiveConf) 'active.history.jsonl'

    function Get-Served {
        # The colour nginx's front server answers with (each colour's /version says '<colour> <image>').
        $body = & curl -sf --max-time 5 "http://127.0.0.1:$($ngx.Port)/version"
        if ($LASTEXITCODE -ne 0) { throw "curl through nginx failed (exit $LASTEXITCODE)." }
        ($body -split ' ')[0]
    }

    function Get-ReloadCount {
        @(Select-String -LiteralPath $ngx.ErrorLog -SimpleMatch 'signal 1 (SIGHUP) received').Count
    }

    function Reset-Blue {
        if ((Get-Served) -eq 'blue') { return }
        if ((Get-PuoTrafficState).ActiveColor -ne 'blue') {
            $null = Switch-PuoTraffic -To blue -HealthyProbes 1 -AnalysisRequests 0 -MonitorSec 0 -MinReloadInterval 0s -Confirm:$false -ErrorAction Stop
            return
        }
        # A switch killed between its write and its reload leaves the file naming blue while nginx still serves green.
        & kill -HUP ([int](Get-Content -LiteralPath $ngx.PidFile))
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        while ((Get-Served) -ne 'blue' -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
        if ((Get-Served) -ne 'blue') { throw 'nginx does not serve blue after a reload of a traffic file naming blue.' }
    }
}

AfterAll {
    Reset-Blue
}

Describe 'Blue-Green Deployment on the sandbox nginx' {
    BeforeEach { Reset-Blue }

    It 'Get-PuoTrafficState names blue active, both colours healthy Swarm services, and the nginx master (help example 1 and 2)' {
        $state = Get-PuoTrafficState
        $state.ActiveColor | Should -Be 'blue'
        $state.Colors.Color | Should -Be @('blue', 'green')
        $state.Colors.Status | Should -Be @('OK', 'OK')
        $state.Colors.Backends | Should -Be @("127.0.0.1:$($ngx.BluePort)", "127.0.0.1:$($ngx.GreenPort)")
        if ((Get-PuoSandboxState).Colors.Runner -eq 'Swarm' -or $env:CI -eq 'true') {
            $state.Colors.Source | Should -Be @('Swarm', 'Swarm')
            $state.Colors.Services | Should -Be @('puo-blue', 'puo-green')
        }
        $state.NginxMasterPid | Should -Be $ngx.Pid
        @($state.Colors | Where-Object { -not $_.Active }).Color | Should -Be 'green'
    }

    It 'Switch-PuoTraffic -WhatIf changes neither the traffic file nor nginx (help example 1)' {
        $before = (Get-Content -Raw $ngx.ActiveConf), (Get-ReloadCount)
        Switch-PuoTraffic -WhatIf
        ((Get-Content -Raw $ngx.ActiveConf), (Get-ReloadCount)) | Should -Be $before
        Get-Served | Should -Be 'blue'
    }

    It 'switches to green with one reload, curl sees green, and -To blue is the rollback (help example 2)' {
        $reloads = Get-ReloadCount
        $switch = Switch-PuoTraffic -To green -MonitorSec 2 -Confirm:$false
        $switch.From, $switch.To, $switch.RolledBack | Should -Be @('blue', 'green', $false)
        $switch.MonitorRequests | Should -BeGreaterThan 0
        # The watch window is paced: one request every 50 ms at most (two senders, each one per 100 ms), however fast nginx answers.
        $switch.MonitorRequests | Should -BeLessOrEqual ([math]::Floor($switch.MonitorTime.TotalMilliseconds / 50) + 2)
        $switch.MonitorFailed | Should -Be 0
        Get-ReloadCount | Should -Be ($reloads + 1)
        Get-Served | Should -Be 'green'
        (Get-PuoTrafficState).ActiveColor | Should -Be 'green'

        $back = Switch-PuoTraffic -To blue -MonitorSec 0 -Confirm:$false
        $back.From, $back.To | Should -Be @('green', 'blue')
        Get-Served | Should -Be 'blue'
    }

    It '-Rollback undoes the last switch, and the history lists both newest first (help examples 3, history 1 and 2)' {
        $null = Switch-PuoTraffic -To green -MonitorSec 0 -Confirm:$false
        $undo = Switch-PuoTraffic -Rollback -MonitorSec 0 -Confirm:$false
        $undo.From, $undo.To | Should -Be @('green', 'blue')
        Get-Served | Should -Be 'blue'
        $last = Get-PuoDeploymentHistory -First 2
        $last[0].Started | Should -Be $undo.Started
        $last[0].To, $last[1].To | Should -Be @('blue', 'green')
        @(Get-PuoDeploymentHistory -Color gr*).Count | Should -BeGreaterOrEqual 2
        @(Get-PuoDeploymentHistory -RolledBack | Where-Object { -not $_.RolledBack }).Count | Should -Be 0
    }

    It 'refuses an unreachable target with TargetNotReady and changes nothing' {
        $null = Connect-PuoEnvironment deadgreen -NginxConfig $ngx.Conf -TrafficFile $ngx.ActiveConf -SkipCheck `
            -Color @{ blue = "127.0.0.1:$($ngx.BluePort)"; green = '127.0.0.1:9' }
        try {
            $before = (Get-Content -Raw $ngx.ActiveConf), (Get-ReloadCount)
            Switch-PuoTraffic -Environment deadgreen -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable failed
            $failed[0].FullyQualifiedErrorId | Should -BeLike 'PuoOps.Deployment.TargetNotReady*'
            $failed[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
            ((Get-Content -Raw $ngx.ActiveConf), (Get-ReloadCount)) | Should -Be $before
        }
        finally { Disconnect-PuoEnvironment deadgreen -Confirm:$false }
    }

    It 'a pwsh killed with kill -9 in the middle of switches leaves a whole traffic file and nginx serving' -ForEach @(
        @{ DelayMs = 300 }, @{ DelayMs = 1100 }
    ) {
        # The child connects the sandbox itself (PUO_SANDBOX_STATE and PUO_MODULE_PATH are inherited): no secret on its command line.
        Set-Content -LiteralPath "$TestDrive/switch-loop.ps1" -Value @"
Import-Module '$PSScriptRoot/PuoTestHelpers.psm1'
Connect-PuoSandbox | Out-Null
foreach (`$i in 1..50) {
    `$null = Switch-PuoTraffic -To green -HealthyProbes 1 -AnalysisRequests 5 -MonitorSec 0 -MinReloadInterval 0s -Confirm:`$false -ErrorAction Stop
    `$null = Switch-PuoTraffic -To blue -HealthyProbes 1 -AnalysisRequests 5 -MonitorSec 0 -MinReloadInterval 0s -Confirm:`$false -ErrorAction Stop
}
"@
        $start = [Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
        if ([IO.Path]::GetFileNameWithoutExtension($start.FileName) -eq 'dotnet') { $start.ArgumentList.Add("$PSHOME/pwsh.dll") }
        foreach ($a in '-NoProfile', '-NonInteractive', '-File', "$TestDrive/switch-loop.ps1") { $start.ArgumentList.Add($a) }
        $start.RedirectStandardOutput = $true; $start.RedirectStandardError = $true
        # A killed .NET process leaves its IPC sockets in its temp folder: give it one of its own, removed below.
        $childTemp = New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) "puo-killed-switch-$(Get-Random)")
        $start.Environment['TMPDIR'] = $childTemp.FullName
        $child = [Diagnostics.Process]::Start($start)
        $errors = $child.StandardError.ReadToEndAsync()
        $null = $child.StandardOutput.ReadToEndAsync()
        try {
            # Wait until the child recorded a switch of its own, then kill it at this test's moment, mid-loop.
            $records = @(Get-Content -LiteralPath $history -ErrorAction Ignore).Count
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while (@(Get-Content -LiteralPath $history -ErrorAction Ignore).Count -eq $records -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
            @(Get-Content -LiteralPath $history).Count | Should -BeGreaterThan $records -Because "the child should switch: $(if ($child.HasExited) { $errors.Result })"
            Start-Sleep -Milliseconds $DelayMs
            $child.HasExited | Should -BeFalse -Because "the child must be killed mid-loop $(if ($child.HasExited) { $errors.Result })"
        }
        finally {
            if (-not $child.HasExited) { $child.Kill() }   # SIGKILL, the process this test started
            $child.WaitForExit()
            Remove-Item -LiteralPath $childTemp -Recurse -Force
        }
        $text = Get-Content -Raw $ngx.ActiveConf
        $text | Should -Match "(?s)^# PuoOps traffic file.*# color: (blue|green)\nupstream puo_active \{\n    server 127\.0\.0\.1:(?:$($ngx.BluePort)|$($ngx.GreenPort));\n\}\n$"
        (Get-PuoTrafficState).ActiveColor | Should -BeIn @('blue', 'green')
        Get-Served | Should -BeIn @('blue', 'green')
    }
}

Describe 'Blue-green on a host without Swarm: containers as colours, Publish-PuoDeployment -ComposeFile runs docker compose' -Skip:$noDocker {
    # The sandbox's engine is a Swarm manager, so this runs on a plain engine of its own (Start-PuoPlainEngine: a second
    # dockerd, the sandbox's image loaded into it). Blue is a plain container (docker run), green a compose project of its
    # own started by Publish-PuoDeployment (Debian 12: the standalone docker-compose the sandbox installs); both labelled
    # puo.color and puo.port, which is how the module finds them, and run the sandbox's colour script.
    BeforeAll {
        $script:docker = Start-PuoPlainEngine
        $script:project = "puo-t-$(Get-Random)"
        $script:upstream = "puo_t$(Get-Random)"
        function Get-LoopbackPort {
            $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0); $listener.Start()
            try { $listener.LocalEndpoint.Port } finally { $listener.Stop() }
        }
        function Get-ProjectContainer([string] $Name) {
            @(& docker -H $docker.Host ps -a --filter "label=com.docker.compose.project=$Name" --format '{{.Names}}' | Where-Object { $_ })
        }
        function Wait-Version([int] $Port, [string] $Expected) {
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while ((& curl -s --max-time 2 "http://127.0.0.1:$Port/version") -ne $Expected) {
                if ([DateTime]::UtcNow -gt $deadline) { throw "127.0.0.1:$Port did not answer /version '$Expected' within 60 s." }
                Start-Sleep -Milliseconds 200
            }
        }
        $script:bluePort, $script:greenPort = (Get-LoopbackPort), (Get-LoopbackPort)
        # What each colour runs: the sandbox's colour script (busybox httpd on $PORT, /version saying colour and image).
        $script:httpd = (Get-PuoSandboxState).Colors.Script
        $script:blue = "$project-blue-run"
        $null = & docker -H $docker.Host run -d --name $blue --network host --label puo.color=blue --label "puo.port=$bluePort" --label "puo.upstream=$upstream" `
            -e "PORT=$bluePort" -e PUO_COLOR=blue -e PUO_IMAGE=run $docker.Image sh -c $httpd
        Wait-Version $bluePort 'blue run'
        $script:composeFile = Join-Path $TestDrive 'docker-compose.green.yml'
        # compose escapes $ as $$.
        Set-Content -LiteralPath $composeFile -Value @"
version: "2.4"
services:
  web:
    image: $($docker.Image)
    network_mode: host
    environment: { PORT: "$greenPort", PUO_COLOR: green, PUO_IMAGE: compose }
    labels: { puo.color: green, puo.port: "$greenPort", puo.upstream: $upstream }
    command: ["sh", "-c", $(($httpd -replace '\$', '$$$$') | ConvertTo-Json)]
"@
        # A traffic file of its own naming blue; the sandbox's nginx (Publish-PuoDeployment never reloads it).
        $script:trafficFile = Join-Path $TestDrive 'noswarm-traffic.conf'
        Set-Content -LiteralPath $trafficFile -Value "upstream $upstream {`n    server 127.0.0.1:$bluePort;`n}" -NoNewline
        $null = Connect-PuoEnvironment -Name noswarm -NginxConfig $ngx.Conf -NginxPath $ngx.Binary -TrafficFile $trafficFile -Upstream $upstream `
            -DockerHost $docker.Host -ComposeProject $project -SkipCheck
    }

    AfterAll {
        Disconnect-PuoEnvironment noswarm -Confirm:$false -ErrorAction SilentlyContinue
        if ($docker) { Stop-PuoPlainEngine $docker }   # its containers and networks go with it
    }

    It 'the engine is not a Swarm manager (what this Describe tests)' {
        & docker -H $docker.Host info --format '{{.Swarm.LocalNodeState}}' | Should -Be 'inactive'
    }

    It 'Publish-PuoDeployment -Image needs a Swarm manager: NotASwarmManager, classified by the engine''s own swarm state' {
        Publish-PuoDeployment -Environment noswarm -Color green -Image "$($docker.Image)" -WaitSec 10 -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable failure
        $failure | Should -HaveCount 1
        $failure[0].FullyQualifiedErrorId | Should -BeLike 'PuoOps.Docker.NotASwarmManager,*'
        $failure[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        "$($failure[0])" | Should -BeLike '*swarm state: inactive*'
        @(& docker -H $docker.Host ps -aq --filter label=puo.color=green) | Should -BeNullOrEmpty
    }

    It 'refuses clearly when neither docker compose nor docker-compose is installed, and changes nothing' {
        $path = $env:PATH
        try {
            $env:PATH = Join-Path $TestDrive 'empty-bin'
            Publish-PuoDeployment -Environment noswarm -Color green -ComposeFile $composeFile -WaitSec 30 -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable failure
        }
        finally { $env:PATH = $path }
        $failure | Should -HaveCount 1
        $failure[0].FullyQualifiedErrorId | Should -BeLike 'PuoOps.Deployment.NoCompose,*'
        $failure[0].CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        "$($failure[0])" | Should -BeLike '*apt-get install docker-compose*'
        Get-ProjectContainer "$project-green" | Should -BeNullOrEmpty
    }

    It 'runs docker compose up for the idle colour as a project of its own, waits until it answers, and leaves blue active' {
        $before = Get-Content -Raw $trafficFile
        $result = Publish-PuoDeployment -Environment noswarm -Color green -ComposeFile $composeFile -WaitSec 90 -Confirm:$false -ErrorAction Stop
        $result.Action | Should -Be 'ComposeUp'
        $result.Status | Should -Be 'OK'
        $result.Backends | Should -Be "127.0.0.1:$greenPort"
        $result.Services | Should -Be (Get-ProjectContainer "$project-green")
        & curl -sf --max-time 5 "http://127.0.0.1:$greenPort/version" | Should -Be 'green compose'
        & curl -sf --max-time 5 "http://127.0.0.1:$bluePort/version" | Should -Be 'blue run'
        Get-Content -Raw $trafficFile | Should -Be $before
    }

    It 'Get-PuoTrafficState finds both colours from their labelled containers, blue active' {
        $state = Get-PuoTrafficState -Environment noswarm
        $state.ActiveColor | Should -Be 'blue'
        $state.Colors.Color | Should -Be @('blue', 'green')
        $state.Colors.Source | Should -Be @('Container', 'Container')
        $state.Colors.Status | Should -Be @('OK', 'OK')
        $state.Colors[0].Backends | Should -Be "127.0.0.1:$bluePort"
        $state.Colors[0].Services | Should -Be $blue
        $state.Colors[1].Services | Should -Be (Get-ProjectContainer "$project-green")
    }

    It 'refuses the active colour unless -Force, before running compose' {
        Publish-PuoDeployment -Environment noswarm -Color blue -ComposeFile $composeFile -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable failure
        $failure[0].FullyQualifiedErrorId | Should -BeLike 'PuoOps.Deployment.ActiveColor,*'
        Get-ProjectContainer "$project-blue" | Should -BeNullOrEmpty
    }
}
