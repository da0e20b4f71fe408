using System.Text.RegularExpressions;
using PuoOps.Engine.Nginx;

namespace PuoOps.Engine.Security;

/// <summary>What a Block or Unblock batch did: one change per address, the requests that failed alone, and nginx's side.</summary>
public sealed record BlockListUpdate(IReadOnlyList<IpBlockChange> Changes, IReadOnlyList<PuoException> Errors, NginxIncludeChange Nginx);

/// <summary>
/// Block-, Get- and Unblock-PuoIpAddress: the nginx deny list of the environment (Connect-PuoEnvironment
/// -BlockListFile, else puo-blocklist.conf beside nginx.conf), changed as one batch per pipeline through
/// <see cref="NginxControl"/>, and optionally mirrored into the module's firewall set.
/// </summary>
public static partial class BlockListService
{
    public const string DefaultFileName = "puo-blocklist.conf";

    public static async Task<string> PathAsync(OperationContext ctx) =>
        ctx.Environment.BlockListFile is { } named
            ? Path.GetFullPath(named)
            : Path.Combine(Path.GetDirectoryName(await NginxInstance.ConfigPathAsync(ctx).ConfigureAwait(false))!, DefaultFileName);

    /// <summary>The entries of the list, in its order; none when the file does not exist yet.</summary>
    public static async Task<IReadOnlyList<BlockedIpAddress>> ListAsync(OperationContext ctx)
    {
        var path = await PathAsync(ctx).ConfigureAwait(false);
        if (!File.Exists(path))
            ctx.Log($"There is no block list at {path} yet: nothing is blocked.");
        var list = BlockList.Parse(File.Exists(path) ? await File.ReadAllTextAsync(path, ctx.Cancellation).ConfigureAwait(false) : null, path, ctx.Environment.Name);
        return list.Entries.Select(list.Describe).ToList();
    }

    /// <summary>
    /// Adds all <paramref name="requests"/> in one write and one reload; with <paramref name="firewall"/> they are also
    /// dropped by the module's firewall set, and a firewall failure rolls the nginx change back.
    /// </summary>
    public static async Task<BlockListUpdate> BlockAsync(OperationContext ctx, IReadOnlyList<IpRequest> requests, string? reason, bool firewall)
    {
        var nginx = await NginxInstance.ResolveAsync(ctx).ConfigureAwait(false);
        var path = await PathAsync(ctx).ConfigureAwait(false);
        if (firewall)
            Firewall.Tool(); // NotFound now, before nginx is touched
        var at = DateTimeOffset.UtcNow;
        at = at.AddTicks(-(at.Ticks % TimeSpan.TicksPerSecond));
        BlockList? list = null;
        List<IpBlockChange> changes = [];
        var change = await NginxControl.ReplaceIncludeAsync(ctx, nginx, path, text =>
        {
            list = BlockList.Parse(text, path, ctx.Environment.Name);
            changes = list.Add(requests, reason, at, Operator(), firewall);
            return list.Render();
        }, firewall ? (_, _) => SyncFirewallAsync(ctx, list!) : null).ConfigureAwait(false);
        if (firewall && !change.Changed)
            await SyncFirewallAsync(ctx, list!).ConfigureAwait(false); // nothing new for nginx, but the set may be gone (a reboot)
        return new BlockListUpdate(changes, [], change);
    }

    /// <summary>Removes the entries inside each request in one write and one reload, and from the firewall set if they were in it.</summary>
    public static async Task<BlockListUpdate> UnblockAsync(OperationContext ctx, IReadOnlyList<IpRequest> requests)
    {
        var nginx = await NginxInstance.ResolveAsync(ctx).ConfigureAwait(false);
        var path = await PathAsync(ctx).ConfigureAwait(false);
        BlockList? list = null;
        List<IpBlockChange> changes = [];
        List<PuoException> errors = [];
        var change = await NginxControl.ReplaceIncludeAsync(ctx, nginx, path, text =>
        {
            list = BlockList.Parse(text, path, ctx.Environment.Name);
            (changes, errors) = list.Remove(requests);
            return list.Render();
        }, (_, _) => changes.Any(c => c.Firewall) ? SyncFirewallAsync(ctx, list!) : Task.CompletedTask).ConfigureAwait(false);
        return new BlockListUpdate(changes, errors, change);
    }

    private static Task SyncFirewallAsync(OperationContext ctx, BlockList list) =>
        Firewall.SyncAsync(ctx, list.Entries.Where(e => e.Firewall).Select(e => e.Network).ToList());

    /// <summary>Who blocked: the user behind sudo when there is one, as one word of the entry's comment.</summary>
    private static string Operator() =>
        NotAWordCharacter().Replace(System.Environment.GetEnvironmentVariable("SUDO_USER") is { Length: > 0 } sudo ? sudo : System.Environment.UserName, "_");

    [GeneratedRegex(@"[\s,:]")]
    private static partial Regex NotAWordCharacter();
}
