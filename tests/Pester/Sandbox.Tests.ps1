# The sandbox must not hand its superuser or its passwords to other local users: its socket admits only the
# OS user that runs PostgreSQL, and its state file (which holds the passwords) is owner-only from the first byte.

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $script:pg = (Get-PuoSandboxState).Postgres
    $script:isRoot = ((& id -u) -eq '0')
}

Describe 'The sandbox PostgreSQL socket' {
    It 'refuses another local user, even as the database superuser' {
        if (-not $isRoot) {
            $env:CI | Should -Not -Be 'true' -Because 'CI runs as root, where another OS user can be tried'
            Set-ItResult -Skipped -Because 'only root can run psql as another OS user'
            return
        }
        $psql = Join-Path $pg.BinDir 'psql'
        $out = & runuser -u nobody -- $psql -X -q -t -A -h $pg.SocketDir -p $pg.Port -U $pg.OsUser -d postgres -c 'SELECT 1' 2>&1
        $LASTEXITCODE | Should -Not -Be 0 -Because "nobody must not become the superuser through the socket: $out"
        "$out" | Should -Match 'Permission denied|Peer authentication failed|authentication failed'
        # The OS user that owns the cluster still gets in (peer authentication), which the sandbox script needs.
        & runuser -u $pg.OsUser -- $psql -X -q -t -A -h $pg.SocketDir -p $pg.Port -U $pg.OsUser -d postgres -c 'SELECT 1' | Should -Be '1'
    }
}

Describe 'Save-State' {
    BeforeAll {
        . "$PSScriptRoot/../Sandbox/Sandbox.ps1"
        $script:dir = Join-Path ([IO.Path]::GetTempPath()) "puo-state-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        $null = New-Item -ItemType Directory -Path $dir
    }
    AfterAll { Remove-Item -LiteralPath $dir -Recurse -Force -ErrorAction SilentlyContinue }

    It 'writes the passwords owner-only and never through a file planted under its temp name' {
        $path = Join-Path $dir 'state.json'
        $victim = Join-Path $dir 'victim.txt'
        Set-Content -LiteralPath $victim -Value 'precious' -NoNewline
        # The temp name the script used to write first (predictable from the path and the pid).
        $null = New-Item -ItemType SymbolicLink -Path "$path.$PID.tmp" -Target $victim
        Save-State ([ordered]@{ Root = '/tmp/puo-sandbox-test'; Secret = 'pw-not-for-others' }) $path
        Get-Content -LiteralPath $victim -Raw | Should -Be 'precious'
        [IO.File]::GetUnixFileMode($path) | Should -Be ([IO.UnixFileMode]'UserRead, UserWrite')
        (Get-Content -LiteralPath $path -Raw | ConvertFrom-Json).Secret | Should -Be 'pw-not-for-others'
        @(Get-ChildItem -LiteralPath $dir -Filter 'state.json.*.tmp' | Where-Object { -not $_.LinkTarget }) | Should -BeNullOrEmpty
    }

    It 'creates a missing state folder owner-only' {
        $path = Join-Path $dir 'new/state.json'
        Save-State ([ordered]@{ Root = '/tmp/puo-sandbox-test' }) $path
        [IO.File]::GetUnixFileMode((Join-Path $dir 'new')) | Should -Be ([IO.UnixFileMode]'UserRead, UserWrite, UserExecute')
    }
}

Describe 'The sandbox blue-green pair' {
    BeforeAll {
        $script:state = Get-PuoSandboxState
        $script:runner = $state.Colors.Runner
    }

    It 'is two Swarm services on the sandbox engine, a single-node Swarm manager, labelled as the module finds colours' {
        if ($runner -ne 'Swarm') {
            $env:CI | Should -Not -Be 'true' -Because 'CI runs as root, where the sandbox has Docker and its colours run on Swarm'
            Set-ItResult -Skipped -Because "the sandbox has no Docker: its colours run as processes ($($state.Docker.Error))"
            return
        }
        $docker = $state.Docker
        & docker -H $docker.Host info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.NodeAddr}}' |
            Should -Be "active true $(($docker.SwarmListenAddr -split ':')[0])"
        foreach ($color in 'blue', 'green') {
            $port = $state.Nginx."$((Get-Culture).TextInfo.ToTitleCase($color))Port"
            $state.Colors.$color.Service | Should -Be "puo-$color"
            & docker -H $docker.Host service inspect "puo-$color" --format '{{index .Spec.Labels "puo.color"}} {{index .Spec.Labels "puo.port"}} {{index .Spec.Labels "puo.upstream"}} {{.Spec.TaskTemplate.ContainerSpec.Image}} {{.Spec.Mode.Replicated.Replicas}}' |
                Should -Be "$color $port puo_active $($docker.Image) 1"
        }
    }

    It 'answers /health and /version "<colour> <image>" on each colour''s port, and nginx''s front the colour active.conf names' {
        $active = if ((Get-Content -Raw $state.Nginx.ActiveConf) -match "server 127\.0\.0\.1:$($state.Nginx.GreenPort);") { 'green' } else { 'blue' }
        foreach ($color in 'blue', 'green') {
            $port = $state.Nginx."$((Get-Culture).TextInfo.ToTitleCase($color))Port"
            & curl -sf --max-time 5 "http://127.0.0.1:$port/version" | Should -Be "$color $($state.Colors.Image)"
            & curl -sf --max-time 5 "http://127.0.0.1:$port/health" | Should -Be '{"status":"healthy"}'
        }
        & curl -sf --max-time 5 "http://127.0.0.1:$($state.Nginx.Port)/version" | Should -Be "$active $($state.Colors.Image)"
    }
}
