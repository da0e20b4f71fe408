using Npgsql;

namespace PuoOps.Engine.Postgres;

/// <summary>
/// The server's word is the result. PostgreSQL reports some work it did not do only as a WARNING, and the statement
/// still "succeeds": VACUUM or ANALYZE of a table the role does not own ("skipping "t" --- only table or database owner
/// can vacuum it"), of something that is not a table, a table SKIP_LOCKED found locked, a REINDEX CONCURRENTLY step it
/// cannot do that way. Every maintenance statement (VACUUM, ANALYZE, REINDEX, pg_prewarm) runs under this watch, and
/// this is the one place that decides which notices make the statement an error. Any other WARNING is passed on to the
/// operator, never dropped.
/// </summary>
internal sealed class ServerNotices : IDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly List<PostgresNotice> _notices = [];

    private ServerNotices(NpgsqlConnection connection)
    {
        _connection = connection;
        _connection.Notice += OnNotice;
    }

    /// <summary>Starts collecting what the server says on <paramref name="connection"/>; dispose after the statement.</summary>
    public static ServerNotices Watch(NpgsqlConnection connection) => new(connection);

    /// <summary>True when SKIP_LOCKED made the server skip the table (SQLSTATE 55P03): what the caller asked for, reported as Skipped.</summary>
    public bool LockSkipped => _notices.Any(n => n.SqlState == PostgresErrorCodes.LockNotAvailable);

    /// <summary>
    /// Throws for the first notice that says the work of <paramref name="statement"/> on <paramref name="target"/> was not
    /// done (apart from a SKIP_LOCKED skip), and writes every other WARNING as a warning of <paramref name="ctx"/>.
    /// </summary>
    public void ThrowIfSkipped(OperationContext ctx, string statement, string target)
    {
        foreach (var notice in _notices.Where(n => n.SqlState != PostgresErrorCodes.LockNotAvailable))
        {
            if (Skipped(notice) is { } error)
                throw new PuoException(error.Kind, error.Id,
                    $"{statement} of {target} was not done: PostgreSQL skipped it ({notice.MessageText}). {error.Hint}", target);
            if (notice.InvariantSeverity == "WARNING")
                ctx.Warn($"{statement} of {target}: PostgreSQL warned: {notice.MessageText}");
        }
    }

    public void Dispose() => _connection.Notice -= OnNotice;

    private void OnNotice(object sender, NpgsqlNoticeEventArgs e)
    {
        lock (_notices)
            _notices.Add(e.Notice);
    }

    /// <summary>
    /// Whether a notice means "not done". The privilege warnings carry only the generic SQLSTATE 01000, so they are known
    /// by their text (PostgreSQL's English messages, as with lc_messages C or en): "only ... owner can vacuum it" up to
    /// 15, "permission denied to vacuum ..., skipping it" from 16; the other skips all say "skipping".
    /// </summary>
    private static (ErrorKind Kind, string Id, string Hint)? Skipped(PostgresNotice notice)
    {
        var text = notice.MessageText;
        if (notice.SqlState == PostgresErrorCodes.InsufficientPrivilege
            || text.Contains("owner can vacuum it", StringComparison.Ordinal) || text.Contains("owner can analyze it", StringComparison.Ordinal)
            || text.Contains("only superuser can", StringComparison.Ordinal) || text.StartsWith("permission denied to ", StringComparison.Ordinal))
            return (ErrorKind.PermissionDenied, "PuoOps.Postgres.PermissionDenied",
                "It needs the table's owner, the database's owner or a superuser (from PostgreSQL 16 also the MAINTAIN privilege or the pg_maintain role): connect as one.");
        if (notice.SqlState == PostgresErrorCodes.UndefinedTable)
            return (ErrorKind.NotFound, "PuoOps.Postgres.ObjectNotFound", "It was dropped meanwhile; list what exists with Get-PuoTableSize.");
        if (notice.InvariantSeverity == "WARNING" && text.Contains("skipping", StringComparison.OrdinalIgnoreCase))
            return (ErrorKind.InvalidOperation, "PuoOps.Postgres.Skipped", "Nothing was changed.");
        return null;
    }
}
