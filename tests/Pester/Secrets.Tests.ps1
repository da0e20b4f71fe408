# Runbook: Authentication Failures (verify JWT_SECRET/API_KEY, regenerate keys, update the Claude Desktop and Cursor
# configs) and Unauthorized Access Attempt (rotate all keys), with the built module against the sandbox: its stand-in
# stack's .env (the default environment's EnvFile) and its compose project puo-memo (services api and mcp).

BeforeDiscovery {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $script:noDocker = -not (Get-PuoSandboxState).Docker.Available -and $env:CI -ne 'true'
}

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $null = Connect-PuoSandbox
    $script:sandboxEnv = (Get-PuoEnvironment -Default).EnvFile
    $script:old = 'a' * 64
    $script:oldJwt = 'b' * 64
    # Everything compose accepts and an operator keeps in a .env: comments, blank lines, export, spacing, inline comments,
    # the three quoting styles, CRLF line endings.
    $script:fixture = "# PUO Memo production`r`n`r`nexport API_KEY=$old   # rotated quarterly`r`nJWT_SECRET='$oldJwt'`r`n" +
        "DATABASE_URL=`"postgres://puo:pw@db:5432/puo_memo`"`r`n  REFRESH_SECRET = kept-as-is`r`n"

    function New-EnvFixture([string] $Content = $fixture) {
        $dir = (New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) "puo-secrets-$(Get-Random)")).FullName
        $file = Join-Path $dir '.env'
        [IO.File]::WriteAllText($file, $Content)
        $file
    }

    function Get-EnvValue([string] $File, [string] $Key) {
        # The value as compose reads it, for the simple styles the fixtures use.
        foreach ($line in [IO.File]::ReadAllLines($File)) {
            if ($line -match "^\s*(?:export\s+)?$Key\s*=\s*(?:'([^']*)'|`"([^`"]*)`"|([^\s#]*))") { return $Matches[1] + $Matches[2] + $Matches[3] }
        }
    }

    function Get-Plain([securestring] $Secure) { [Net.NetworkCredential]::new('', $Secure).Password }

    function Get-Hash([string] $File) { (Get-FileHash -LiteralPath $File -Algorithm SHA256).Hash }

    function Invoke-FreshPwsh([string] $Script, [hashtable] $Environment = @{}) {
        # A new non-interactive pwsh, as a scheduled task runs one; returns its exit code and everything it printed.
        $pwsh = Join-Path $PSHOME 'pwsh'
        $info = if (Test-Path $pwsh) { [Diagnostics.ProcessStartInfo]::new($pwsh) } else {
            $i = [Diagnostics.ProcessStartInfo]::new('dotnet'); $i.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll')); $i }
        foreach ($a in '-NoProfile', '-NonInteractive', '-Command', $Script) { $info.ArgumentList.Add($a) }
        foreach ($key in $Environment.Keys) { $info.Environment[$key] = $Environment[$key] }
        $info.RedirectStandardOutput = $true; $info.RedirectStandardError = $true; $info.RedirectStandardInput = $true
        $process = [Diagnostics.Process]::Start($info)
        $process.StandardInput.Close()
        $out = $process.StandardOutput.ReadToEndAsync(); $err = $process.StandardError.ReadToEndAsync()
        if (-not $process.WaitForExit(180000)) { $process.Kill(); throw 'The child pwsh did not finish within 180 s (waiting on a prompt?).' }
        $process.WaitForExit()
        [pscustomobject]@{ ExitCode = $process.ExitCode; Output = $out.Result + $err.Result }
    }
}

Describe 'Reset-PuoApiKey' {
    BeforeEach {
        $file = New-EnvFixture
        [IO.File]::SetUnixFileMode($file, [IO.UnixFileMode]'UserRead, UserWrite, GroupRead')
        if ((& id -u) -eq '0') { & chown 65534:65534 $file }
        $owner = & stat -c '%u:%g' $file
        $before = [IO.File]::ReadAllText($file)
    }
    AfterEach { Remove-Item -LiteralPath (Split-Path $file) -Recurse -Force }

    It 'gives API_KEY a random value and keeps every other byte, the mode and the owner' {
        $rotation = Reset-PuoApiKey -EnvFile $file -Confirm:$false -PassThru
        $new = Get-Plain $rotation.NewValue
        $new | Should -MatchExactly '^[A-Za-z0-9]{64}$'
        [IO.File]::ReadAllText($file) | Should -BeExactly $before.Replace("API_KEY=$old", "API_KEY=$new")
        [IO.File]::GetUnixFileMode($file) | Should -Be ([IO.UnixFileMode]'UserRead, UserWrite, GroupRead')
        & stat -c '%u:%g' $file | Should -Be $owner
        $rotation.Name | Should -Be 'API_KEY'
        $rotation.EnvFile | Should -Be $file
        $rotation.Project | Should -Be 'puo-memo'
        $rotation.Environment | Should -Be 'sandbox'
        [IO.File]::ReadAllText($rotation.BackupPath) | Should -BeExactly $before
        [IO.File]::GetUnixFileMode($rotation.BackupPath) | Should -Be ([IO.UnixFileMode]'UserRead, UserWrite')
        (Split-Path $rotation.BackupPath) | Should -Be (Split-Path $file)
        $shown = ($rotation | Format-List * | Out-String) + ($rotation | Out-String) + ($rotation | ConvertTo-Json) + "$rotation"
        $shown | Should -Not -Match ([regex]::Escape($new.Substring(0, 6)))
    }

    It '-All rotates JWT_SECRET too, in one backup and one rewrite, and keeps its single quotes' {
        $rotations = @(Reset-PuoApiKey -EnvFile $file -All -Confirm:$false -PassThru)
        $rotations.Name | Sort-Object | Should -Be @('API_KEY', 'JWT_SECRET')
        @($rotations.BackupPath | Sort-Object -Unique) | Should -HaveCount 1
        @(Get-ChildItem (Split-Path $file) -Filter '.env.bak-*' -Force) | Should -HaveCount 1
        $jwt = Get-Plain ($rotations | Where-Object Name -eq 'JWT_SECRET').NewValue
        [IO.File]::ReadAllText($file) | Should -Match ([regex]::Escape("`r`nJWT_SECRET='$jwt'`r`n"))
        ($rotations | Where-Object Name -eq 'JWT_SECRET').Message | Should -Match 'everyone signs in again'
    }

    It '-WhatIf writes nothing and returns nothing' {
        $result = Reset-PuoApiKey -EnvFile $file -All -WhatIf
        $result | Should -BeNullOrEmpty
        [IO.File]::ReadAllText($file) | Should -BeExactly $before
        Get-ChildItem (Split-Path $file) -Filter '.env.bak-*' -Force | Should -BeNullOrEmpty
    }

    It 'writes a value holding $ in single quotes, which compose reads literally' {
        $rotation = Reset-PuoApiKey -EnvFile $file -IncludeSymbols -Length 1024 -Confirm:$false -PassThru
        $new = Get-Plain $rotation.NewValue
        $new | Should -Match '\$' -Because '1024 characters from 90 hold a $ but once in 100,000 runs'
        $new | Should -Not -Match "['`"\\`` ]"
        [IO.File]::ReadAllText($file) | Should -BeExactly $before.Replace("API_KEY=$old   #", "API_KEY='$new'   #")
        Get-EnvValue $file 'API_KEY' | Should -BeExactly $new
    }

    It 'says a key the file does not assign is not found, and changes nothing' {
        $result = Reset-PuoApiKey -EnvFile $file -Name NOT_THERE -Confirm:$false -ErrorVariable failed -ErrorAction SilentlyContinue
        $result | Should -BeNullOrEmpty
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'PuoOps.Secrets.KeyNotFound,*'
        $failed[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        [IO.File]::ReadAllText($file) | Should -BeExactly $before
    }

    It 'rotates the keys Test-PuoSecretEnvironment found weak, and only those' {
        [IO.File]::WriteAllText($file, $before.Replace("API_KEY=$old", 'API_KEY=changeme'))
        [IO.File]::SetUnixFileMode($file, [IO.UnixFileMode]'UserRead, UserWrite') # group-readable would be a finding of its own
        Test-PuoSecretEnvironment -EnvFile $file -Name API_KEY, JWT_SECRET | Where-Object Status -eq Critical | Reset-PuoApiKey -Confirm:$false |
            ForEach-Object Name | Should -Be @('API_KEY', 'JWT_SECRET') # 64 times 'b' is no secret either
        (Test-PuoSecretEnvironment -EnvFile $file -Name API_KEY, JWT_SECRET).Status | Should -Be @('OK', 'OK')
    }

    It 'warns when the key is also set in the session, where docker compose would take it from' {
        $env:API_KEY = 'from-the-session'
        try { $null = Reset-PuoApiKey -EnvFile $file -Confirm:$false -WarningVariable warned -WarningAction SilentlyContinue }
        finally { Remove-Item env:API_KEY }
        "$warned" | Should -Match 'docker compose prefers'
        "$warned" | Should -Not -Match 'from-the-session'
    }

    It 'never waits on a prompt in a non-interactive session: without -Confirm:$false it fails and writes nothing' {
        $run = Invoke-FreshPwsh "Import-Module '$(Join-Path $env:PUO_MODULE_PATH 'PuoOps.psd1')'; Reset-PuoApiKey -EnvFile '$file'"
        $run.Output | Should -Match 'NonInteractive|prompt'
        [IO.File]::ReadAllText($file) | Should -BeExactly $before
    }
}

Describe 'Reset-PuoApiKey | Restart-PuoService api, mcp, on the sandbox stack' -Skip:$noDocker {
    It 'rotates the stack''s API_KEY and restarts its api and mcp containers once each' {
        (Get-PuoSandboxState).Docker.Available | Should -BeTrue -Because 'CI must run this against the sandbox Docker engine'
        $keyBefore = Get-EnvValue $sandboxEnv 'API_KEY'
        $started = @{}; Get-PuoContainer -Project puo-memo | ForEach-Object { $started[$_.Service] = $_.StartedAt }
        $changes = @(Reset-PuoApiKey -All -Confirm:$false | Restart-PuoService api, mcp -Wait -TimeoutSec 60)
        $changes.Service | Sort-Object | Should -Be @('api', 'mcp')
        $changes.Changed | Should -Be @($true, $true)
        $changes.Health | Should -Be @('healthy', 'healthy')
        Get-EnvValue $sandboxEnv 'API_KEY' | Should -Not -Be $keyBefore
        foreach ($container in Get-PuoContainer -Project puo-memo) { $container.StartedAt | Should -BeGreaterThan $started[$container.Service] }
    }
}

Describe 'Test-PuoSecretEnvironment' {
    BeforeEach {
        $file = New-EnvFixture ("API_KEY=$([Security.Cryptography.RandomNumberGenerator]::GetString([char[]]'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789', 48))`n" +
            "JWT_SECRET=your-jwt-secret`nLEGACY_TOKEN=`n")
        [IO.File]::WriteAllText((Join-Path (Split-Path $file) '.env.example'), "API_KEY=`nJWT_SECRET=your-jwt-secret`n")
        [IO.File]::SetUnixFileMode($file, [IO.UnixFileMode]'UserRead, UserWrite')
    }
    AfterEach {
        Remove-Item -LiteralPath (Split-Path $file) -Recurse -Force
        Remove-Item env:API_KEY, env:PUO_TEST_SECRET -ErrorAction SilentlyContinue
    }

    It 'tells where each secret is, whether it is strong, and flags a restart that was missed' {
        # The running process has an older key: the file's with another first character (a random key may start with k).
        $inFile = Get-EnvValue $file 'API_KEY'
        $env:API_KEY = ($inFile[0] -ceq 'k' ? 'm' : 'k') + $inFile.Substring(1)
        $env:PUO_TEST_SECRET = [Security.Cryptography.RandomNumberGenerator]::GetHexString(64)
        $checks = @(Test-PuoSecretEnvironment -EnvFile $file -Name API_KEY, JWT_SECRET, *TOKEN, PUO_TEST_*, MISSING_ONE)
        $checks.Name | Should -Be @('API_KEY', 'JWT_SECRET', 'LEGACY_TOKEN', 'PUO_TEST_SECRET', 'MISSING_ONE')
        $byName = @{}; $checks | ForEach-Object { $byName[$_.Name] = $_ }
        $byName.API_KEY.Source | Should -Be 'Both'
        $byName.API_KEY.MatchesFile | Should -BeFalse
        $byName.API_KEY.Status | Should -Be 'Warning'
        $byName.API_KEY.Message | Should -Match 'restart was missed'
        $byName.JWT_SECRET.Status | Should -Be 'Critical'
        $byName.JWT_SECRET.IsPlaceholder | Should -BeTrue
        $byName.JWT_SECRET.Message | Should -Match '\.env\.example'
        $byName.LEGACY_TOKEN.Message | Should -Match 'empty'
        $byName.PUO_TEST_SECRET.Source | Should -Be 'Process'
        $byName.PUO_TEST_SECRET.Status | Should -Be 'OK'
        $byName.MISSING_ONE.Source | Should -Be 'None'
        $byName.MISSING_ONE.Status | Should -Be 'Critical'
        (Test-PuoSecretEnvironment -EnvFile $file -Quiet) | Should -BeFalse
        Remove-Item env:API_KEY
        (Test-PuoSecretEnvironment -EnvFile $file -Name API_KEY -Quiet) | Should -BeTrue
    }

    It 'reads .env in the current folder when neither -EnvFile nor the environment names one' {
        $null = Connect-PuoEnvironment -Name no-env-file -SkipCheck
        try {
            Push-Location (Split-Path $file)
            try { $check = Test-PuoSecretEnvironment -Name API_KEY -Environment no-env-file }
            finally { Pop-Location }
            $check.EnvFile | Should -Be $file
            $check.Source | Should -Be 'File'
        }
        finally { Disconnect-PuoEnvironment -Name no-env-file -Confirm:$false }
    }

    It 'says a named .env file that does not exist is not found' {
        $null = Test-PuoSecretEnvironment -EnvFile (Join-Path (Split-Path $file) 'nope.env') -ErrorVariable failed -ErrorAction SilentlyContinue
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'PuoOps.Secrets.EnvFileNotFound,*'
        $failed[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }
}

Describe 'Update-PuoClientConfig' {
    BeforeEach {
        $file = New-EnvFixture
        $key = Get-EnvValue $file 'API_KEY'
        $home0 = $env:HOME
        $xdg0 = $env:XDG_CONFIG_HOME
        $env:HOME = Split-Path $file
        Remove-Item env:XDG_CONFIG_HOME -ErrorAction SilentlyContinue
    }
    AfterEach {
        $env:HOME = $home0
        if ($xdg0) { $env:XDG_CONFIG_HOME = $xdg0 }
        Remove-Item -LiteralPath (Split-Path $file) -Recurse -Force
    }

    It 'writes each client''s default file for this OS, with the key from the .env file' {
        $changes = @(Update-PuoClientConfig -Client ClaudeDesktop, Cursor -EnvFile $file -Url http://127.0.0.1:3000/mcp -Confirm:$false)
        $changes.Path | Should -Be @((Join-Path $env:HOME '.config/Claude/claude_desktop_config.json'), (Join-Path $env:HOME '.cursor/mcp.json'))
        $changes.Action | Should -Be @('Added', 'Added')
        $changes.RestartRequired | Should -Be @($true, $true)
        $claude = Get-Content $changes[0].Path -Raw | ConvertFrom-Json
        $claude.mcpServers.'puo-memo'.command | Should -Be 'npx'
        $claude.mcpServers.'puo-memo'.args | Should -Be @('-y', 'mcp-remote', 'http://127.0.0.1:3000/mcp', '--header', 'Authorization:${AUTH_HEADER}')
        $claude.mcpServers.'puo-memo'.env.AUTH_HEADER | Should -BeExactly "Bearer $key"
        $cursor = Get-Content $changes[1].Path -Raw | ConvertFrom-Json
        $cursor.mcpServers.'puo-memo'.headers.Authorization | Should -BeExactly "Bearer $key"
        foreach ($path in $changes.Path) {
            [IO.File]::GetUnixFileMode($path) | Should -Be ([IO.UnixFileMode]'UserRead, UserWrite') -Because 'a new config holds the key'
        }
        ($changes | Format-List * | Out-String) + ($changes | ConvertTo-Json) | Should -Not -Match ([regex]::Escape($key.Substring(0, 6)))
    }

    It 'without -Client updates the clients whose config folder exists' {
        $null = New-Item -ItemType Directory -Path (Join-Path $env:HOME '.cursor')
        $changes = @(Update-PuoClientConfig -EnvFile $file -Confirm:$false)
        $changes.Client | Should -Be @('Cursor')
        Test-Path (Join-Path $env:HOME '.config/Claude') | Should -BeFalse
    }

    It 'keeps every other entry, key and the indentation, and backs the file up first' {
        $path = Join-Path $env:HOME 'mcp.json'
        $original = "{`n    `"mcpServers`": {`n        `"github`": {`"command`": `"npx`", `"args`": [`"-y`", `"@modelcontextprotocol/server-github`"]},`n" +
            "        `"puo-memo`": {`n            `"url`": `"http://old:3000`",`n            `"headers`": {`"Authorization`": `"Bearer old`", `"X-Team`": `"ops`"}`n        }`n" +
            "    },`n    `"theme`": `"dark`"`n}`n"
        [IO.File]::WriteAllText($path, $original)
        [IO.File]::SetUnixFileMode($path, [IO.UnixFileMode]'UserRead, UserWrite, GroupRead')
        $change = Update-PuoClientConfig -Path $path -EnvFile $file -Confirm:$false
        $change.Client | Should -Be 'Cursor'
        $change.Action | Should -Be 'Updated'
        $change.Changes | Should -Be @('headers.Authorization: Bearer ******** (was Bearer ********)')
        $text = [IO.File]::ReadAllText($path)
        $text | Should -BeExactly ($original.Replace("{`"Authorization`": `"Bearer old`", `"X-Team`": `"ops`"}",
                "{`n                `"Authorization`": `"Bearer $key`",`n                `"X-Team`": `"ops`"`n            }"))
        [IO.File]::ReadAllText($change.BackupPath) | Should -BeExactly $original
        [IO.File]::GetUnixFileMode($change.BackupPath) | Should -Be ([IO.UnixFileMode]'UserRead, UserWrite')
        [IO.File]::GetUnixFileMode($path) | Should -Be ([IO.UnixFileMode]'UserRead, UserWrite, GroupRead')
        # The same key again: nothing to do, nothing written.
        $again = Update-PuoClientConfig -Path $path -EnvFile $file -Confirm:$false
        $again.Action | Should -Be 'Unchanged'
        @(Get-ChildItem $env:HOME -Filter 'mcp.json.bak-*' -Force) | Should -HaveCount 1
    }

    It 'refuses a file that is not valid JSON and leaves it untouched' {
        $path = Join-Path $env:HOME 'claude_desktop_config.json'
        [IO.File]::WriteAllText($path, "{`n  `"mcpServers`": {`n    `"puo-memo`": {`"command`": `"x`", `"env`": {`"API_KEY`": $key}}`n  }`n}`n")
        $hash = Get-Hash $path
        $written = (Get-Item $path).LastWriteTimeUtc
        $result = Update-PuoClientConfig -Path $path -EnvFile $file -Confirm:$false -ErrorVariable failed -ErrorAction SilentlyContinue
        $result | Should -BeNullOrEmpty
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'PuoOps.Secrets.ClientConfigInvalid,*'
        $failed[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        "$($failed[0]) $($failed[0].Exception)" | Should -Match 'line 3'
        "$($failed[0]) $($failed[0].Exception)" | Should -Not -Match "'$($key[0])'"
        Get-Hash $path | Should -Be $hash
        (Get-Item $path).LastWriteTimeUtc | Should -Be $written
        Get-ChildItem $env:HOME -Filter '*.bak-*' -Force | Should -BeNullOrEmpty
    }

    It 'takes the new key straight from Reset-PuoApiKey, and -WhatIf writes nothing' {
        $path = Join-Path $env:HOME 'mcp.json'
        $null = Update-PuoClientConfig -Path $path -EnvFile $file -WhatIf
        Test-Path $path | Should -BeFalse
        $rotation = Reset-PuoApiKey -EnvFile $file -Confirm:$false -PassThru | Tee-Object -Variable rotated | Update-PuoClientConfig -Path $path -Confirm:$false
        $rotation.Action | Should -Be 'Added'
        (Get-Content $path -Raw | ConvertFrom-Json).mcpServers.'puo-memo'.headers.Authorization | Should -BeExactly "Bearer $(Get-Plain $rotated.NewValue)"
    }

    It '-WhatIf shows each change with the key masked and says how to restart the client, and writes nothing' {
        $path = Join-Path $env:HOME 'mcp.json'
        $null = Update-PuoClientConfig -Path $path -EnvFile $file -Confirm:$false
        $hash = Get-Hash $path
        $newKey = 'Wq' + ('7' * 30) + 'newkeyvalue' + ('3' * 20)
        $transcript = Join-Path (Split-Path $file) 'whatif.txt'
        $null = Start-Transcript -LiteralPath $transcript
        try { $output = Update-PuoClientConfig -Path $path -ApiKey (ConvertTo-SecureString $newKey -AsPlainText -Force) -WhatIf }
        finally { $null = Stop-Transcript }
        $shown = (Get-Content -LiteralPath $transcript | Where-Object { $_ -match 'What if:' }) -join ' '
        $output | Should -BeNullOrEmpty
        Get-Hash $path | Should -Be $hash
        $shown | Should -Match ([regex]::Escape("on target `"$path`""))
        $shown | Should -Match 'Bearer \*{8}'
        $shown | Should -Match 'refresh the server under Settings > MCP, or restart Cursor'
        $shown | Should -Not -Match 'newkeyvalue|7{8}|3{8}'
        $shown | Should -Not -Match ([regex]::Escape($key.Substring(0, 6)))
    }

    It 'writes ${env:API_KEY} for Cursor with -UseEnvReference, and refuses it for Claude Desktop' {
        $path = Join-Path $env:HOME 'mcp.json'
        $null = Update-PuoClientConfig -Path $path -UseEnvReference -Confirm:$false
        (Get-Content $path -Raw | ConvertFrom-Json).mcpServers.'puo-memo'.headers.Authorization | Should -BeExactly 'Bearer ${env:API_KEY}'
        { Update-PuoClientConfig -Client ClaudeDesktop -UseEnvReference -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'PuoOps.Secrets.EnvReferenceUnsupported,*'
    }
}
