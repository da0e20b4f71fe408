# The module as shipped: its manifest matches the compiled cmdlets, every output type has a default view, and
# its dependencies stay in their own AssemblyLoadContext without slowing down Import-Module.

BeforeDiscovery {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    Import-PuoModule
    # [OutputType]s of PuoOps's own classes; System.Boolean (Test-PuoPostgres -Quiet) and the like need no view.
    $outputTypes = @(Get-Command -Module PuoOps -CommandType Cmdlet | ForEach-Object OutputType | Where-Object { $_.Type.Namespace -eq 'PuoOps' } |
            Sort-Object Name -Unique | ForEach-Object { @{ TypeName = $_.Name; Type = $_.Type } })
}

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $null = Connect-PuoSandbox
    $module = Get-Module PuoOps

    function Invoke-FreshPwsh([string] $Script) {
        # A new pwsh process of the same version, without profile: what an operator's new shell sees.
        $pwsh = Join-Path $PSHOME 'pwsh'
        $arguments = @('-NoProfile', '-NonInteractive', '-Command', $Script)
        $output = if (Test-Path $pwsh) { & $pwsh @arguments 2>&1 } else { & dotnet (Join-Path $PSHOME 'pwsh.dll') @arguments 2>&1 }
        if ($LASTEXITCODE -ne 0) { throw "The child pwsh failed (exit $LASTEXITCODE):`n$($output -join "`n")" }
        ($output | Select-Object -Last 1) | ConvertFrom-Json
    }
}

Describe 'PuoOps.psd1' {
    It 'exports exactly the cmdlets compiled into PuoOps.dll' {
        $compiled = $module.ImplementingAssembly.GetExportedTypes() |
            Where-Object { -not $_.IsAbstract -and $_.IsDefined([System.Management.Automation.CmdletAttribute], $false) } |
            ForEach-Object {
                $attribute = $_.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
                "$($attribute.VerbName)-$($attribute.NounName)"
            }
        $manifest = (Import-PowerShellDataFile (Join-Path $env:PUO_MODULE_PATH 'PuoOps.psd1')).CmdletsToExport
        @($manifest | Sort-Object) | Should -Be @($compiled | Sort-Object)
        @((Get-Command -Module PuoOps -CommandType Cmdlet).Name | Sort-Object) | Should -Be @($compiled | Sort-Object)
    }
}

Describe 'Default view of <TypeName>' -ForEach $outputTypes {
    It 'is in the loaded format data, with columns the type has' {
        $format = Get-FormatData -TypeName $TypeName
        $format | Should -Not -BeNullOrEmpty -Because "PuoOps.Format.ps1xml needs a view for $TypeName"
        $view = @($format.FormatViewDefinition)[0]
        if ($view.Control -is [System.Management.Automation.CustomControl]) {
            # A report read as text (Invoke-PuoDiagnostic's): its tests check the text at 80 columns.
            $view.Control.Entries | Should -Not -BeNullOrEmpty
            return
        }
        $view.Control | Should -BeOfType [System.Management.Automation.TableControl]
        $properties = @($view.Control.Rows[0].Columns.DisplayEntry | Where-Object ValueType -EQ 'Property' | ForEach-Object Value)
        foreach ($property in $properties) {
            $Type.GetProperty($property) | Should -Not -BeNullOrEmpty -Because "the view of $TypeName shows property '$property'"
        }
    }
}

Describe 'Importing in a fresh pwsh' {
    BeforeAll {
        $probe = Invoke-FreshPwsh @'
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $env:PUO_MODULE_PATH 'PuoOps.psd1')
$loadedAtImport = @([AppDomain]::CurrentDomain.GetAssemblies() | ForEach-Object { $_.GetName().Name }) -contains 'PuoOps.Engine'
$health = Test-PuoPostgres
$context = [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext((Get-PuoEnvironment -Default).GetType().Assembly)
[pscustomobject]@{
    EngineLoadedAtImport = $loadedAtImport
    PostgresStatus       = "$($health.Status)"
    EngineContext        = $context.Name
    OwnContextAssemblies = @($context.Assemblies | ForEach-Object { $_.GetName().Name })
    DefaultAssemblies    = @([System.Runtime.Loader.AssemblyLoadContext]::Default.Assemblies | ForEach-Object { $_.GetName().Name })
} | ConvertTo-Json -Compress
'@
    }

    It 'does not load PuoOps.Engine until a cmdlet runs' {
        $probe.EngineLoadedAtImport | Should -BeFalse
    }

    It 'loads PuoOps.Engine into the "PuoOps.Engine" AssemblyLoadContext' {
        $probe.PostgresStatus | Should -Be 'OK' -Because 'Test-PuoPostgres against the sandbox (DATABASE_URL) must have used Npgsql'
        $probe.EngineContext | Should -Be 'PuoOps.Engine'
        $probe.OwnContextAssemblies | Should -Contain 'Npgsql'
    }

    It 'keeps Npgsql and PuoOps.Engine out of the default AssemblyLoadContext' {
        $probe.DefaultAssemblies | Should -Not -Contain 'Npgsql'
        $probe.DefaultAssemblies | Should -Not -Contain 'PuoOps.Engine'
        $probe.DefaultAssemblies | Should -Contain 'PuoOps'
    }
}
