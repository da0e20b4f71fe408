#Requires -Version 7.4
<#
.SYNOPSIS
    Connects this pwsh session to the sandbox stack that build.ps1 -Task Sandbox started.
.DESCRIPTION
    Imports the built module (out/PuoOps/<version>) and connects the environment "sandbox" as the session's default,
    reading ports and passwords from the sandbox's state file. Like a host of the stack, the session also gets
    DATABASE_URL, REDIS_URL, DOCKER_HOST, PUO_API_URL and PUO_MCP_URL. Nothing printed holds a password.
.EXAMPLE
    dotnet pwsh -NoExit -File ./tools/Connect-Sandbox.ps1
    A new session, connected. In an open session: & ./tools/Connect-Sandbox.ps1
#>
param([string] $StateFile = (Join-Path $PSScriptRoot '../out/sandbox/state.json'))
$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot
if (-not (Test-Path -LiteralPath $StateFile)) { throw "No sandbox state at $StateFile; start one with: dotnet pwsh ./build.ps1 -Task Sandbox" }
$version = (Import-PowerShellDataFile (Join-Path $root 'PuoOps.psd1')).ModuleVersion
$env:PUO_MODULE_PATH = Join-Path $root "out/PuoOps/$version"
$env:PUO_SANDBOX_STATE = (Resolve-Path -LiteralPath $StateFile).ProviderPath
Import-Module (Join-Path $root 'tests/Pester/PuoTestHelpers.psm1') -Global
Connect-PuoSandbox -Name sandbox -PassThru
