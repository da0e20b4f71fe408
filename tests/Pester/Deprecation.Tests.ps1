# Old spellings keep working for one release, and the help of each says so: hidden parameters (-Top, -DurationSec) and the
# properties kept beside their typed replacements (Size, *Ms, SampleSeconds).

BeforeDiscovery {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    Import-PuoModule
    $cmdlets = Get-Command -Module PuoOps -CommandType Cmdlet
    $hiddenParameters = @(foreach ($cmdlet in $cmdlets) {
            foreach ($parameter in $cmdlet.Parameters.Values) {
                if ($parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] -and $_.DontShow }) {
                    @{ Cmdlet = $cmdlet.Name; Parameter = $parameter.Name }
                }
            }
        })
    # Each deprecated property with the cmdlets whose output (or what it holds) carries it.
    $deprecatedProperties = @(foreach ($cmdlet in $cmdlets) {
            foreach ($type in $cmdlet.OutputType.Type | Where-Object { $_ }) {
                $types = @($type) + @($type.GetProperties().PropertyType | ForEach-Object { $_.IsArray ? $_.GetElementType() : $_ } | Where-Object Namespace -eq 'PuoOps')
                foreach ($property in $types.GetProperties() | Where-Object { $_.GetCustomAttributes([ObsoleteAttribute], $true) }) {
                    "$($cmdlet.Name)|$($property.DeclaringType.Name).$($property.Name)"
                }
            }
        }) | Sort-Object -Unique | ForEach-Object { $cmdlet, $property = $_.Split('|'); @{ Cmdlet = $cmdlet; Property = $property } }
}

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $null = Connect-PuoSandbox
}

Describe 'Hidden parameters are old spellings' {
    It '<Cmdlet> -<Parameter> says in its help that it is deprecated' -ForEach $hiddenParameters {
        (Get-Help $Cmdlet -Parameter $Parameter).description.Text -join ' ' | Should -Match '^Deprecated: use -\w+'
    }

    It 'Get-PuoTableSize -Top still works, as -First does' {
        @(Get-PuoTableSize -Top 2).Count | Should -Be 2
        (Get-PuoTableSize -Top 2).Table | Should -Be (Get-PuoTableSize -First 2).Table
    }

    It 'Measure-PuoLatency -DurationSec still bounds the run, as -Duration does' {
        $run = Measure-PuoLatency -Rate 20 -DurationSec 1
        $run.Count | Should -Be 20
    }
}

Describe 'Deprecated properties' {
    It '<Property> is named deprecated in the help of <Cmdlet>' -ForEach $deprecatedProperties {
        $name = $Property.Split('.')[1]
        Get-Help $Cmdlet -Full | Out-String -Width 500 | Should -Match "(?s)$name.*deprecated|deprecated.*$name"
    }

    It 'still reads the same value as its replacement' {
        $table = Get-PuoTableSize -First 1
        $table.Size | Should -Be $table.TotalBytes
        $plan = Get-PuoQueryPlan 'SELECT count(*) FROM memories'
        $plan.TotalMs | Should -Be $plan.Total.TotalMilliseconds
    }
}
