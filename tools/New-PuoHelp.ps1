#Requires -Version 7.4
<#
.SYNOPSIS
    Writes the module's MAML help (en-US/PuoOps.dll-Help.xml) from docs/cmdlets/*.md and the compiled cmdlets.
.DESCRIPTION
    The prose (synopsis, description, examples, parameter descriptions, inputs, outputs, notes, links) comes from
    one markdown file per cmdlet (format: docs/cmdlets/README.md). Everything the compiler knows (parameter sets,
    types, Mandatory, Position, pipeline input, aliases, wildcards, default values, output types) comes from the
    built module, so it cannot drift. Fails, naming the cmdlet and what is missing, when the documentation is
    incomplete or describes a parameter that does not exist. Runs in every build: keep it fast.
.EXAMPLE
    pwsh -File tools/New-PuoHelp.ps1 -ModulePath out/PuoOps/0.1.0 -SourcePath docs/cmdlets -OutputPath out/PuoOps/0.1.0/en-US/PuoOps.dll-Help.xml
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $SourcePath,
    [Parameter(Mandatory)] [string] $OutputPath
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$CommonFileName = '_CommonParameters.md'
# Verbose, ErrorAction, ...: described by about_CommonParameters, never in a cmdlet's own help.
$SkippedParameters = [System.Management.Automation.PSCmdlet]::CommonParameters + 'UseTransaction'
$Namespaces = @{
    maml    = 'http://schemas.microsoft.com/maml/2004/10'
    command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
    dev     = 'http://schemas.microsoft.com/maml/dev/2004/10'
}

Import-Module (Join-Path $PSScriptRoot 'PuoHelpSource.psm1') -Force

#region metadata --------------------------------------------------------------------------------

function Get-TypeName([type] $Type) {
    # The short name Get-Help shows: Int32[], DateTime (for Nullable<DateTime>), SwitchParameter.
    $element = if ($Type.IsArray) { $Type.GetElementType() } else { $Type }
    $element = [Nullable]::GetUnderlyingType($element) ?? $element
    $element.Name + $(if ($Type.IsArray) { '[]' })
}

function Get-DefaultValue {
    # What a fresh instance of the cmdlet holds: the property initializers are the defaults.
    param($Instance, [System.Management.Automation.ParameterMetadata] $Parameter)
    # -WhatIf and -Confirm are PowerShell's, not properties of the cmdlet.
    $property = if ($Instance) { $Instance.GetType().GetProperty($Parameter.Name) }
    if (-not $property) { return $(if ($Parameter.SwitchParameter) { 'False' } else { 'None' }) }
    $value = $property.GetValue($Instance)
    if ($null -eq $value) { return 'None' }
    if ($value -is [System.Management.Automation.SwitchParameter]) { return [string]$value.IsPresent }
    if ($value -is [array]) { return $(if ($value.Count) { $value -join ', ' } else { 'None' }) }
    [string]$value
}

function Get-PipelineInput([System.Management.Automation.CommandParameterInfo[]] $Uses) {
    $kinds = @()
    if ($Uses | Where-Object ValueFromPipeline) { $kinds += 'ByValue' }
    if ($Uses | Where-Object ValueFromPipelineByPropertyName) { $kinds += 'ByPropertyName' }
    if ($kinds) { "True ($($kinds -join ', '))" } else { 'False' }
}

function Get-AcceptedValue([System.Management.Automation.CommandParameterInfo] $Use) {
    $set = $Use.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] } | Select-Object -First 1
    if ($set) { return $set.ValidValues }
    $type = [Nullable]::GetUnderlyingType($Use.ParameterType) ?? $Use.ParameterType
    if ($type.IsEnum) { return [enum]::GetNames($type) }
}

#endregion

#region MAML ------------------------------------------------------------------------------------

function Write-Para([System.Xml.XmlWriter] $Writer, [string[]] $Paragraphs) {
    foreach ($p in $Paragraphs) { $Writer.WriteElementString('maml', 'para', $Namespaces.maml, $p) }
    if (-not $Paragraphs) { $Writer.WriteElementString('maml', 'para', $Namespaces.maml, '') }
}

function Write-Description([System.Xml.XmlWriter] $Writer, [string[]] $Paragraphs) {
    $Writer.WriteStartElement('maml', 'description', $Namespaces.maml)
    Write-Para $Writer $Paragraphs
    $Writer.WriteEndElement()
}

function Write-TypeBlock([System.Xml.XmlWriter] $Writer, [string] $Element, [object[]] $Types) {
    # command:inputTypes/inputType or command:returnValues/returnValue.
    $Writer.WriteStartElement('command', $Element + 's', $Namespaces.command)
    foreach ($t in $Types) {
        $Writer.WriteStartElement('command', $Element, $Namespaces.command)
        $Writer.WriteStartElement('dev', 'type', $Namespaces.dev)
        $Writer.WriteElementString('maml', 'name', $Namespaces.maml, $t.Type)
        $Writer.WriteEndElement()
        Write-Description $Writer $t.Description
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()
}

function Write-Parameter {
    # One command:parameter, in a syntaxItem (-InSyntax: switches show no value) or in command:parameters.
    param([System.Xml.XmlWriter] $Writer, [pscustomobject] $Parameter, [System.Management.Automation.CommandParameterInfo] $Use, [switch] $InSyntax)
    $w = $Writer
    $w.WriteStartElement('command', 'parameter', $Namespaces.command)
    $w.WriteAttributeString('required', "$($Use.IsMandatory)".ToLowerInvariant())
    $w.WriteAttributeString('variableLength', "$($Use.ParameterType.IsArray)".ToLowerInvariant())
    $w.WriteAttributeString('globbing', "$($Parameter.Globbing)".ToLowerInvariant())
    $w.WriteAttributeString('pipelineInput', $Parameter.PipelineInput)
    $w.WriteAttributeString('position', $(if ($Use.Position -ge 0) { "$($Use.Position)" } else { 'named' }))
    $w.WriteAttributeString('aliases', $(if ($Use.Aliases.Count) { $Use.Aliases -join ', ' } else { 'none' }))
    $w.WriteElementString('maml', 'name', $Namespaces.maml, $Parameter.Name)
    Write-Description $w $Parameter.Description
    $isSwitch = $Use.ParameterType -eq [System.Management.Automation.SwitchParameter]
    $accepted = @(Get-AcceptedValue $Use)
    if ($accepted) {
        $w.WriteStartElement('command', 'parameterValueGroup', $Namespaces.command)
        foreach ($v in $accepted) {
            $w.WriteStartElement('command', 'parameterValue', $Namespaces.command)
            $w.WriteAttributeString('required', 'false'); $w.WriteAttributeString('variableLength', 'false')
            $w.WriteString($v)
            $w.WriteEndElement()
        }
        $w.WriteEndElement()
    }
    if (-not ($InSyntax -and $isSwitch)) {
        $w.WriteStartElement('command', 'parameterValue', $Namespaces.command)
        $w.WriteAttributeString('required', "$(-not $isSwitch)".ToLowerInvariant())
        $w.WriteAttributeString('variableLength', "$($Use.ParameterType.IsArray)".ToLowerInvariant())
        $w.WriteString($Parameter.TypeName)
        $w.WriteEndElement()
    }
    $w.WriteStartElement('dev', 'type', $Namespaces.dev)
    $w.WriteElementString('maml', 'name', $Namespaces.maml, $Parameter.FullTypeName)
    $w.WriteEndElement()
    $w.WriteElementString('dev', 'defaultValue', $Namespaces.dev, $Parameter.DefaultValue)
    $w.WriteEndElement()
}

function Write-Command {
    param([System.Xml.XmlWriter] $Writer, [System.Management.Automation.CmdletInfo] $Command, [pscustomobject] $Doc, [object[]] $Parameters)
    $w = $Writer
    $w.WriteStartElement('command', 'command', $Namespaces.command)
    $w.WriteStartElement('command', 'details', $Namespaces.command)
    $w.WriteElementString('command', 'name', $Namespaces.command, $Command.Name)
    $w.WriteElementString('command', 'verb', $Namespaces.command, $Command.Verb)
    $w.WriteElementString('command', 'noun', $Namespaces.command, $Command.Noun)
    Write-Description $w $Doc.Synopsis
    $w.WriteEndElement()
    Write-Description $w $Doc.Description

    $w.WriteStartElement('command', 'syntax', $Namespaces.command)
    foreach ($set in $Command.ParameterSets) {
        $w.WriteStartElement('command', 'syntaxItem', $Namespaces.command)
        $w.WriteElementString('maml', 'name', $Namespaces.maml, $Command.Name)
        # The order PowerShell's own syntax uses: positional by position, then mandatory, then the rest.
        $uses = $set.Parameters | Where-Object Name -NotIn $SkippedParameters |
            Sort-Object { if ($_.Position -ge 0) { $_.Position } else { [int]::MaxValue } }, { -not $_.IsMandatory }
        foreach ($use in $uses) { Write-Parameter $w ($Parameters | Where-Object Name -EQ $use.Name) $use -InSyntax }
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'parameters', $Namespaces.command)
    foreach ($p in $Parameters) { Write-Parameter $w $p $p.Use }
    $w.WriteEndElement()

    Write-TypeBlock $w 'inputType' $Doc.Inputs
    Write-TypeBlock $w 'returnValue' $Doc.Outputs

    $w.WriteStartElement('maml', 'alertSet', $Namespaces.maml)
    $w.WriteStartElement('maml', 'alert', $Namespaces.maml)
    Write-Para $w $Doc.Notes
    $w.WriteEndElement()
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'examples', $Namespaces.command)
    foreach ($example in $Doc.Examples) {
        $w.WriteStartElement('command', 'example', $Namespaces.command)
        $w.WriteElementString('maml', 'title', $Namespaces.maml, "--------- $($example.Title) ---------")
        $w.WriteElementString('dev', 'code', $Namespaces.dev, $example.Code)
        $w.WriteStartElement('dev', 'remarks', $Namespaces.dev)
        Write-Para $w $example.Remarks
        $w.WriteEndElement()
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'relatedLinks', $Namespaces.command)
    # First: the page on the project site, which Get-Help -Online opens.
    $online = [pscustomobject]@{ Text = 'Online Version:'; Uri = "$($Command.Module.ProjectUri)/blob/main/docs/cmdlets/$($Command.Name).md" }
    foreach ($link in @($online) + @($Doc.Links)) {
        $w.WriteStartElement('maml', 'navigationLink', $Namespaces.maml)
        $w.WriteElementString('maml', 'linkText', $Namespaces.maml, $link.Text)
        $w.WriteElementString('maml', 'uri', $Namespaces.maml, $link.Uri)
        $w.WriteEndElement()
    }
    $w.WriteEndElement()
    $w.WriteEndElement()
}

#endregion

function Get-HelpParameter {
    # The cmdlet's documented parameters (all but the common ones), metadata from the compiled cmdlet.
    param([System.Management.Automation.CmdletInfo] $Command, [pscustomobject] $Doc, [System.Collections.IDictionary] $Inherited,
        [System.Collections.Generic.List[string]] $Problems)
    $instance = try { [Activator]::CreateInstance($Command.ImplementingType) } catch { $null }
    foreach ($name in $Doc.Parameters.Keys) {
        if (-not $Command.Parameters.ContainsKey($name) -or $name -in $SkippedParameters) {
            $Problems.Add("$($Command.Name): the markdown documents -$name, which the cmdlet does not have.")
        }
    }
    foreach ($parameter in $Command.Parameters.Values) {
        if ($parameter.Name -in $SkippedParameters) { continue }
        $description = $Doc.Parameters[$parameter.Name] ?? $Inherited[$parameter.Name]
        if (-not $description) { $Problems.Add("$($Command.Name): parameter -$($parameter.Name) has no description ('### -$($parameter.Name)' under '## PARAMETERS').") }
        $uses = @($Command.ParameterSets | ForEach-Object { $_.Parameters | Where-Object Name -EQ $parameter.Name })
        [pscustomobject]@{
            Name          = $parameter.Name
            Description   = $description
            Use           = $uses[0]
            TypeName      = Get-TypeName $parameter.ParameterType
            FullTypeName  = $parameter.ParameterType.FullName
            PipelineInput = Get-PipelineInput $uses
            Globbing      = [bool]($parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })
            DefaultValue  = Get-DefaultValue $instance $parameter
        }
    }
}

function Complete-TypeList {
    # INPUTS falls back to what binds from the pipeline, OUTPUTS to [OutputType]; 'None' when there is nothing.
    param([pscustomobject] $Doc, [System.Management.Automation.CmdletInfo] $Command, [object[]] $Parameters)
    if (-not $Doc.Inputs) {
        $Doc.Inputs = @($Parameters | Where-Object PipelineInput -NE 'False' | ForEach-Object {
                [pscustomobject]@{ Type = $_.FullTypeName; Description = @("-$($_.Name) binds from the pipeline: $($_.PipelineInput).") } })
    }
    if (-not $Doc.Outputs) {
        $Doc.Outputs = @($Command.OutputType | ForEach-Object { [pscustomobject]@{ Type = $_.Name; Description = @() } })
    }
    foreach ($list in 'Inputs', 'Outputs') {
        if (-not $Doc.$list) { $Doc.$list = @([pscustomobject]@{ Type = 'None'; Description = @() }) }
    }
}

# Full paths: .NET file APIs resolve relative ones against the process directory, Import-Module treats 'out/x' as a name.
$ModulePath = (Resolve-Path $ModulePath).ProviderPath
$SourcePath = (Resolve-Path $SourcePath).ProviderPath
$OutputPath = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($OutputPath)

$problems = [System.Collections.Generic.List[string]]::new()
$module = Import-Module (Join-Path $ModulePath 'PuoOps.psd1') -Force -PassThru
$commands = @(Get-Command -Module $module.Name -CommandType Cmdlet | Sort-Object Name)
if (-not $commands) { throw "No cmdlet is exported from $ModulePath." }
# Each cmdlet's online help is its page under the project's URI (Get-Help -Online).
if (-not $module.ProjectUri) { throw "PuoOps.psd1 has no PrivateData.PSData.ProjectUri: the online help links are made from it." }

$commonFile = Join-Path $SourcePath $CommonFileName
if (-not (Test-Path $commonFile)) { throw "$commonFile is missing: it describes -Environment, -TimeoutSec, -WhatIf and -Confirm once for all cmdlets." }
$inherited = Read-ParameterSection ([IO.File]::ReadAllLines($commonFile)) $CommonFileName $problems

$settings = [System.Xml.XmlWriterSettings]@{ Indent = $true; IndentChars = '  '; Encoding = [System.Text.UTF8Encoding]::new($false) }
$null = New-Item -ItemType Directory -Path (Split-Path $OutputPath) -Force
$temporary = "$OutputPath.tmp"
$writer = [System.Xml.XmlWriter]::Create($temporary, $settings)
try {
    $writer.WriteStartDocument()
    $writer.WriteStartElement('helpItems', 'http://msh')
    $writer.WriteAttributeString('schema', 'maml')
    foreach ($prefix in $Namespaces.Keys) { $writer.WriteAttributeString('xmlns', $prefix, $null, $Namespaces[$prefix]) }
    foreach ($command in $commands) {
        $path = Join-Path $SourcePath "$($command.Name).md"
        if (-not (Test-Path $path)) { $problems.Add("$($command.Name): no help source; write $path (format: docs/cmdlets/README.md)."); continue }
        $doc = Read-CmdletMarkdown $path $command.Name $problems
        if (-not $doc.Synopsis) { $problems.Add("$($command.Name): '## SYNOPSIS' is missing or empty.") }
        if (-not $doc.Description) { $problems.Add("$($command.Name): '## DESCRIPTION' is missing or empty.") }
        if ($doc.Examples.Count -lt 2) { $problems.Add("$($command.Name): $($doc.Examples.Count) example(s); at least 2 are needed under '## EXAMPLES'.") }
        foreach ($example in $doc.Examples | Where-Object { -not $_.Check -and -not $_.NotRun }) {
            $problems.Add("$($command.Name): '$($example.Title)' has no ``````check block asserting its outcome (or 'Not run by the tests: <why>').")
        }
        $parameters = @(Get-HelpParameter $command $doc $inherited $problems)
        Complete-TypeList $doc $command $parameters
        Write-Command $writer $command $doc $parameters
    }
    $writer.WriteEndElement()
    $writer.WriteEndDocument()
    $writer.Dispose()
}
catch {
    $writer.Dispose()
    Remove-Item $temporary -ErrorAction SilentlyContinue
    throw
}

# A help source for a cmdlet that is not exported is stale (renamed or removed cmdlet, or missing from CmdletsToExport).
$exported = $commands.Name
Get-ChildItem $SourcePath -Filter '*.md' | Where-Object { $_.Name -ne 'README.md' -and -not $_.Name.StartsWith('_') -and $_.BaseName -notin $exported } |
    ForEach-Object { $problems.Add("$($_.BaseName): $($_.Name) documents a cmdlet the module does not export (CmdletsToExport in PuoOps.psd1?).") }

if ($problems.Count) {
    Remove-Item $temporary -ErrorAction SilentlyContinue
    [Console]::Error.WriteLine("Help is incomplete ($($problems.Count) problem(s)); fix docs/cmdlets (format: docs/cmdlets/README.md):")
    foreach ($p in $problems) { [Console]::Error.WriteLine("  $p") }
    exit 1
}
Move-Item $temporary $OutputPath -Force
Write-Host "Help for $($commands.Count) cmdlets written to $OutputPath"
