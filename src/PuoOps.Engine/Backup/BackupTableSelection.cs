using PuoOps.Engine.Postgres;

namespace PuoOps.Engine.Backup;

/// <summary>
/// Backup-PuoDatabase -Table: names and wildcard patterns resolved to the exact tables dumped, by the module's one
/// name rule (<see cref="RelationPattern"/>): case-insensitive, * ? [a-z] and ` escapes, <c>schema.table</c> for
/// one schema, any application schema otherwise.
/// </summary>
internal static class BackupTableSelection
{
    /// <summary>Parsed before anything runs, so a malformed pattern is an InvalidArgument with nothing touched.</summary>
    public static IReadOnlyList<RelationPattern> Parse(IReadOnlyList<string> patterns) =>
        patterns.Select(pattern => RelationPattern.Parse(null, pattern)).ToList();

    /// <summary>
    /// The tables of <paramref name="all"/> the patterns select, in catalog order. A name without wildcards
    /// that matches nothing is an error before pg_dump runs, like pg_dump --strict-names; so is a selection that
    /// is empty altogether (pg_dump without --table would dump everything).
    /// </summary>
    public static List<(BackupTable Table, long Bytes)> Select(List<(BackupTable Table, long Bytes)> all, IReadOnlyList<RelationPattern> patterns,
        string database, OperationContext ctx)
    {
        var selected = all.Where(t => patterns.Any(p => p.IsMatch(t.Table.Schema, t.Table.Name))).ToList();
        var unmatched = patterns.FirstOrDefault(p => p.IsLiteral && !selected.Any(t => p.IsMatch(t.Table.Schema, t.Table.Name)))
                        ?? (selected.Count == 0 ? patterns[0] : null);
        if (unmatched is not null)
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Backup.TableNotFound",
                $"No table in database {database} matches -Table '{unmatched}'; nothing was dumped. Check the name (schema.table names the schema; " +
                "* ? [ ] are wildcards, escape them with ` to match them literally); list the tables with Get-PuoTableSize.", unmatched.ToString());
        ctx.Log($"-Table {string.Join(", ", patterns)} selects {(selected.Count == 0 ? "no table" : string.Join(", ", selected.Select(t => t.Table)))}.");
        return selected;
    }
}
