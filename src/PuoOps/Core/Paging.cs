using System.Management.Automation;
using PuoOps.Engine;

namespace PuoOps.Commands;

/// <summary>PowerShell's -Skip/-First/-IncludeTotalCount, as the engine's <see cref="Engine.Page"/>.</summary>
internal static class Paging
{
    public static Page Page(this PagingParameters paging) =>
        new((long)Math.Min(paging.Skip, long.MaxValue), paging.First >= long.MaxValue ? null : (long)paging.First);
}
