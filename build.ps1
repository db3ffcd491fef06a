<#
.SYNOPSIS
    Build, test, benchmark, load-test or publish the proxy engine.
.DESCRIPTION
    A convenience wrapper for Windows/PowerShell users. Every task is a plain dotnet command,
    listed in README.md, so nothing here is required on Linux: CI runs .ci/run (bash).
.EXAMPLE
    ./build.ps1 test
.EXAMPLE
    ./build.ps1 bench -Filter '*HttpRequestParser*'
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('build', 'test', 'bench', 'load', 'publish')]
    [string] $Task = 'build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # BenchmarkDotNet filter for the bench task.
    [string] $Filter = '*',

    # Arguments passed to the load runner, e.g. 'get --proxy 127.0.0.1:8080 --auth country-any:demo-key'.
    [string] $LoadArgs = 'get --duration 10',

    # Output folder for the publish task (Native AOT: Engine.csproj sets PublishAot; clang and zlib1g-dev on Linux).
    [string] $Output = 'artifacts/publish'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot

function Invoke-Dotnet {
    param([Parameter(Mandatory)][string[]] $Arguments)
    Write-Host "dotnet $($Arguments -join ' ')"
    & dotnet @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "dotnet $($Arguments[0]) failed with exit code $LASTEXITCODE"
    }
}

switch ($Task) {
    'build' {
        Invoke-Dotnet @('build', (Join-Path $root 'Engine.slnx'), '-c', $Configuration)
    }
    'test' {
        Invoke-Dotnet @('test', (Join-Path $root 'Engine.slnx'), '-c', $Configuration)
    }
    'bench' {
        Invoke-Dotnet @('run', '-c', 'Release', '--project', (Join-Path $root 'Engine.Benchmarks'), '--', '--filter', $Filter)
    }
    'load' {
        $loadArguments = @('run', '-c', 'Release', '--project', (Join-Path $root 'LoadTests'), '--') + ($LoadArgs -split ' ')
        Invoke-Dotnet $loadArguments
    }
    'publish' {
        Invoke-Dotnet @('publish', (Join-Path $root 'Engine'), '-c', 'Release', '-o', (Join-Path $root $Output))
    }
}
