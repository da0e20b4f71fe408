# Runbook: High CPU (docker stats, scale api), Memory Leak and Database connection errors (compose ps, restart api mcp),
# Data Breach Response (stop api mcp), Blue-Green (service logs), deployment review (docker images | head -5),
# as an operator composes them in pwsh with the built module against the sandbox's Docker engine.
# Each Describe makes its own compose project (labels as docker compose sets them) and removes it.

BeforeDiscovery {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $script:noDocker = [bool](Get-PuoSkipReason Docker)
}

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $null = Connect-PuoSandbox
    $script:docker = (Get-PuoSandboxState).Docker

    function New-ComposeReplica([string] $Project, [string] $Service, [int] $Number = 1, [string[]] $Extra = @()) {
        # A container labelled as docker compose labels it; logs a line on stdout and on stderr every 200 ms.
        $script = 'trap "exit 0" TERM; i=0; while true; do echo "$SVC out $i"; echo "$SVC err $i" >&2; i=$((i+1)); sleep 0.2 & wait $!; done'
        $name = "$Project-$Service-$Number"
        $null = & docker -H $docker.Host run -d --name $name --network none --stop-timeout 2 -e "SVC=$Service" `
            --label "com.docker.compose.project=$Project" --label "com.docker.compose.service=$Service" `
            --label "com.docker.compose.container-number=$Number" --health-cmd true --health-interval 1s @Extra $docker.Image sh -c $script
        if ($LASTEXITCODE) { throw "docker run $name failed." }
        $name
    }

    function Remove-ComposeProject([string] $Project) {
        $ids = @(& docker -H $docker.Host ps -aq --filter "label=com.docker.compose.project=$Project")
        if ($ids) { $null = & docker -H $docker.Host rm -f $ids }
    }
}

Describe 'Database connection errors: docker-compose ps, then restart api mcp' -Skip:$noDocker {
    BeforeAll {
        $project = "pester-ps-$(Get-Random)"
        $api = New-ComposeReplica $project api
        $mcp = New-ComposeReplica $project mcp
        $null = New-ComposeReplica $project postgres
        & docker -H $docker.Host stop -t 1 $mcp | Out-Null
    }
    AfterAll { Remove-ComposeProject $project }

    It 'shows each service with its state, and the stopped one stands out' {
        $containers = Get-PuoContainer -Project $project
        $containers | Should -HaveCount 3
        ($containers | Where-Object Service -eq 'postgres').State | Should -Be 'running'
        $down = $containers | Where-Object State -ne 'running'
        $down.Name | Should -Be $mcp
        $down.ExitCode | Should -Be 0
    }

    It 'restarts api and mcp together and waits until both are healthy' {
        $changes = Restart-PuoService api, mcp -Project $project -Wait -TimeoutSec 60
        $changes | Should -HaveCount 2
        ($changes | Where-Object Target -eq $mcp).Before | Should -Be 'exited'
        $changes.After | Should -Be @('running', 'running')
        $changes.Health | Should -Be @('healthy', 'healthy')
        (Get-PuoContainer -Project $project -Service mcp).State | Should -Be 'running'
    }
}

Describe 'High CPU: docker stats, then scale api' -Skip:$noDocker {
    BeforeAll {
        $project = "pester-cpu-$(Get-Random)"
        $api = New-ComposeReplica $project api
        $busy = "$project-burner-1"
        $null = & docker -H $docker.Host run -d --name $busy --network none --label "com.docker.compose.project=$project" `
            --label com.docker.compose.service=burner --label com.docker.compose.container-number=1 $docker.Image sh -c 'trap "exit 0" TERM; while true; do :; done'
    }
    AfterAll { Remove-ComposeProject $project }

    It 'flags the container burning CPU and leaves the idle one OK' {
        $stats = Get-PuoContainer -Project $project | Get-PuoContainerStats -CpuWarningPercent 5 -CpuCriticalPercent 10
        $stats | Should -HaveCount 2
        ($stats | Where-Object Status -ne OK).Name | Should -Be $busy
        ($stats | Where-Object Name -eq $api).Status | Should -Be 'OK'
    }

    It 'scales api to 3 with -WhatIf changing nothing, then for real, and back' {
        Set-PuoServiceScale api 3 -Project $project -WhatIf | Should -BeNullOrEmpty
        Get-PuoContainer -Project $project -Service api | Should -HaveCount 1

        $up = Set-PuoServiceScale -Service api -Replicas 3 -Project $project -TimeoutSec 60
        $up.Before | Should -Be 1
        $up.After | Should -Be 3
        $up.Added | Should -Be @("$project-api-2", "$project-api-3")
        (Get-PuoContainer -Project $project -Service api).Number | Should -Be @(1, 2, 3)

        $down = Set-PuoServiceScale api 1 -Project $project
        $down.Removed | Should -Be @("$project-api-3", "$project-api-2")
        (Get-PuoContainer -Project $project -Service api).Name | Should -Be $api
    }
}

Describe 'Data breach response: isolate api and mcp' -Skip:$noDocker {
    BeforeAll {
        $project = "pester-breach-$(Get-Random)"
        $null = New-ComposeReplica $project api 1
        $null = New-ComposeReplica $project api 2
        $null = New-ComposeReplica $project mcp
        $null = New-ComposeReplica $project postgres
    }
    AfterAll { Remove-ComposeProject $project }

    It '-WhatIf stops nothing; -Confirm:$false stops every api and mcp container and nothing else' {
        Stop-PuoService api, mcp -Project $project -WhatIf | Should -BeNullOrEmpty
        (Get-PuoContainer -Project $project | Where-Object State -eq 'running') | Should -HaveCount 4

        $stopped = Stop-PuoService api, mcp -Project $project -Confirm:$false
        $stopped | Should -HaveCount 3
        $stopped.After | Sort-Object -Unique | Should -Be 'exited'
        (Get-PuoContainer -Project $project | Where-Object State -eq 'running').Service | Should -Be 'postgres'
    }

    It 'is never run silently by a non-interactive host: ConfirmImpact is High' {
        (Get-Command Stop-PuoService).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0].ConfirmImpact |
            Should -Be 'High'
    }
}

Describe 'Blue-green: watch the service logs' -Skip:$noDocker {
    BeforeAll {
        $project = "pester-logs-$(Get-Random)"
        $api = New-ComposeReplica $project api
        Start-Sleep -Seconds 2
    }
    AfterAll { Remove-ComposeProject $project }

    It 'separates stderr from stdout so errors can be filtered' {
        $errors = Get-PuoServiceLog -Service api -Project $project -Tail 10 | Where-Object Stream -eq 'stderr'
        $errors | Should -Not -BeNullOrEmpty
        $errors.Message | ForEach-Object { $_ | Should -Match '^api err \d+$' }
        $errors.Container | Sort-Object -Unique | Should -Be $api
    }

    It 'follows new lines until enough have come' {
        $lines = Get-PuoServiceLog -Service api -Project $project -Tail 0 -Follow -Timestamps | Select-Object -First 4
        $lines | Should -HaveCount 4
        $lines.Time | ForEach-Object { $_ | Should -BeOfType [DateTimeOffset] }
    }
}

Describe 'Reviewing a deployment: docker images | head -5' -Skip:$noDocker {
    BeforeAll {
        $project = "pester-images-$(Get-Random)"
        $api = New-ComposeReplica $project api
    }
    AfterAll { Remove-ComposeProject $project }

    It 'lists the newest images with the containers that use them' {
        Get-PuoImage | Select-Object -First 5 | Should -Not -BeNullOrEmpty
        $busybox = Get-PuoImage -Name $docker.Image
        $busybox.Tags | Should -Contain $docker.Image
        $busybox.Containers | Should -Contain $api
    }
}

Describe 'A user the Docker socket keeps out' -Skip:$noDocker {
    # The suite runs as root, which every file mode lets in; so a child pwsh runs as uid/gid 65534 (nobody) with no
    # groups and meets the sandbox socket's real mode (660 root:docker). /root is mode 700, so the child runs copies
    # of pwsh and of the built module from a world-readable temp directory, with a HOME of its own.
    BeforeAll {
        $socket = $docker.Host -replace '^unix://', ''
        $asNobody = @('--reuid=65534', '--regid=65534', '--clear-groups')
        $skipReason = if (-not $IsLinux) { 'it needs Linux file modes' }
        elseif ((& id -u) -ne '0') { 'it needs root to start a process as another user' }
        elseif (-not (Get-Command setpriv -ErrorAction Ignore)) { 'setpriv (util-linux) is not installed' }
        elseif ($socket -eq $docker.Host) { "the sandbox's Docker host $($docker.Host) is not a unix socket" }
        elseif ([IO.File]::GetUnixFileMode($socket) -band [IO.UnixFileMode]::OtherWrite) { "$socket is writable by everyone" }
        if ($skipReason) { return }

        $root = Join-Path ([IO.Path]::GetTempPath()) "puo-denied-$(Get-Random)"
        $null = New-Item -ItemType Directory "$root/home"
        Copy-Item -Recurse $PSHOME "$root/pwsh"
        Copy-Item -Recurse $env:PUO_MODULE_PATH "$root/PuoOps"
        Set-Content "$root/denied.ps1" -Value @'
param([string] $ModulePath, [string] $DockerHost)
Import-Module (Join-Path $ModulePath PuoOps.psd1)
Connect-PuoEnvironment -Name denied -DockerHost $DockerHost -SkipCheck | Out-Null
$failures = @()
try { $output = @(Get-PuoContainer -All -TimeoutSec 10 -ErrorVariable failures -ErrorAction SilentlyContinue) }
catch { $failures = @($_) }
$e = $failures | Select-Object -First 1
[pscustomobject]@{
    Output = $output.Count; Errors = @($failures).Count; Category = "$($e.CategoryInfo.Category)"; ErrorId = $e.FullyQualifiedErrorId
    Target = "$($e.TargetObject)"; Message = $e.Exception.Message; Shown = ($e | Out-String)
} | ConvertTo-Json -Compress
'@
        & chmod -R a+rX $root
        & chown 65534:65534 "$root/home"
        $childEnv = @('env', "HOME=$root/home", "DOTNET_CLI_HOME=$root/home", 'DOTNET_CLI_TELEMETRY_OPTOUT=1', 'POWERSHELL_TELEMETRY_OPTOUT=1')
        # pwsh runs either as a .NET tool (dotnet pwsh.dll, as build.ps1 starts it) or as its own apphost.
        $hostPath = (Get-Process -Id $PID).Path
        $pwsh = if ((Split-Path -Leaf $hostPath) -eq 'dotnet') { @($hostPath, "$root/pwsh/pwsh.dll") } else { @("$root/pwsh/$(Split-Path -Leaf $hostPath)") }
        $probe = & setpriv @asNobody @childEnv @pwsh -NoProfile -NonInteractive -Command 'exit 0' 2>&1
        if ($LASTEXITCODE) { $skipReason = "uid 65534 cannot run $($pwsh -join ' '): $probe" }
    }
    AfterAll { if ($root) { Remove-Item -Recurse -Force $root } }

    It 'gets a PermissionDenied error naming the socket and what to do, not a timeout or a stack trace' {
        if ($skipReason) { Set-ItResult -Skipped -Because $skipReason; return }
        $arguments = @($asNobody) + $childEnv + $pwsh + @('-NoProfile', '-NonInteractive', '-File', "$root/denied.ps1", '-ModulePath', "$root/PuoOps", '-DockerHost', $docker.Host)
        $child = [Diagnostics.Process]::new()
        $child.StartInfo = [Diagnostics.ProcessStartInfo]::new('setpriv', [string[]] $arguments)
        $child.StartInfo.RedirectStandardOutput = $true
        $child.StartInfo.RedirectStandardError = $true
        $null = $child.Start()
        $stderr = $child.StandardError.ReadToEndAsync()
        $stdout = $child.StandardOutput.ReadToEndAsync()
        if (-not $child.WaitForExit(120000)) { $child.Kill($true); throw 'The unprivileged pwsh did not finish within 120 s.' }
        $child.ExitCode | Should -Be 0 -Because $stderr.Result

        $result = $stdout.Result | ConvertFrom-Json
        $result.Output | Should -Be 0
        $result.Errors | Should -Be 1
        $result.Category | Should -Be 'PermissionDenied'   # not OperationTimeout: it failed at once, well within -TimeoutSec 10
        $result.ErrorId | Should -BeLike 'PuoOps.Docker.PermissionDenied,*'
        $result.Target | Should -Be $docker.Host
        $result.Message | Should -BeLike "*$socket*"
        $result.Message | Should -BeLike '*usermod -aG docker*'
        $result.Shown | Should -Not -Match '(?m)^\s+at \S'
        $result.Shown | Should -Not -BeLike '*Docker.DotNet*'
    }
}
