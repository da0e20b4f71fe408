using System.Globalization;
using System.Text;
using Npgsql;
using PuoOps.Engine.Postgres;

namespace PuoOps.Engine.Backup;

/// <summary>A privilege on a database: Grantee null is PUBLIC.</summary>
internal sealed record DatabaseGrant(string? Grantee, string Privilege, bool Grantable);

/// <summary>A per-database setting (ALTER DATABASE ... SET), or with Role a per-role one in it (ALTER ROLE ... IN DATABASE).</summary>
internal sealed record DatabaseSetting(string? Role, string Name, string Value);

/// <summary>
/// What belongs to a database rather than to its contents, so pg_dump (without --create) leaves it out:
/// owner, encoding and locale, tablespace, connection limit, comment, privileges and per-database
/// settings. A restored database swapped in for another must keep them: otherwise the application's role
/// may lose its CONNECT grant or its ownership of the public schema (owned by the database's owner),
/// PUBLIC may get back a CONNECT that was revoked, and settings such as search_path vanish silently
/// (the server keys them by the database's OID, which a new database does not share).
/// </summary>
internal sealed class DatabaseProperties
{
    public string Owner { get; set; } = "";
    public string Encoding { get; set; } = "";
    public string Collate { get; set; } = "";
    public string Ctype { get; set; } = "";
    /// <summary>libc, icu or builtin (PostgreSQL 15 and later; null before).</summary>
    public string? LocaleProvider { get; set; }
    /// <summary>The ICU or builtin locale, when that is the provider.</summary>
    public string? Locale { get; set; }
    /// <summary>Null for the server's default tablespace.</summary>
    public string? Tablespace { get; set; }
    public int ConnectionLimit { get; set; } = -1;
    public string? Comment { get; set; }
    /// <summary>Null: the default privileges (an owner's and PUBLIC's CONNECT and TEMPORARY).</summary>
    public List<DatabaseGrant>? Grants { get; set; }
    public List<DatabaseSetting> Settings { get; set; } = [];

    /// <summary>The settings whose value is a list of names, each quoted on its own (as pg_dump knows them).</summary>
    private static readonly HashSet<string> ListSettings = new(StringComparer.OrdinalIgnoreCase)
    {
        "local_preload_libraries", "search_path", "session_preload_libraries", "shared_preload_libraries", "temp_tablespaces", "unix_socket_directories",
    };

    /// <summary>The properties of <paramref name="database"/>, or null when it does not exist.</summary>
    public static async Task<DatabaseProperties?> ReadAsync(NpgsqlConnection connection, string database, OperationContext ctx)
    {
        // to_jsonb(d) reads the locale columns by name: they differ between server versions.
        const string sql = """
            SELECT pg_get_userbyid(d.datdba), pg_encoding_to_char(d.encoding), d.datcollate, d.datctype,
                   CASE to_jsonb(d) ->> 'datlocprovider' WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' WHEN 'b' THEN 'builtin' END,
                   coalesce(to_jsonb(d) ->> 'datlocale', to_jsonb(d) ->> 'daticulocale'),
                   nullif(t.spcname, 'pg_default'), d.datconnlimit, shobj_description(d.oid, 'pg_database'), d.datacl IS NULL
            FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace WHERE d.datname = @name;
            SELECT CASE WHEN a.grantee <> 0 THEN pg_get_userbyid(a.grantee) END AS grantee, a.privilege_type, a.is_grantable
            FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = @name ORDER BY 1 NULLS FIRST, 2;
            SELECT CASE WHEN s.setrole <> 0 THEN pg_get_userbyid(s.setrole) END AS role, split_part(c, '=', 1) AS name, substr(c, strpos(c, '=') + 1)
            FROM pg_database d JOIN pg_db_role_setting s ON s.setdatabase = d.oid, unnest(s.setconfig) c WHERE d.datname = @name ORDER BY 1 NULLS FIRST, 2;
            """;
        await using var command = connection.Command(sql, ctx);
        command.Parameters.AddWithValue("name", database);
        await using var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
        if (!await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
            return null;
        string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
        var properties = new DatabaseProperties
        {
            Owner = reader.GetString(0), Encoding = reader.GetString(1), Collate = reader.GetString(2), Ctype = reader.GetString(3),
            LocaleProvider = Text(4), Locale = Text(5), Tablespace = Text(6), ConnectionLimit = reader.GetInt32(7), Comment = Text(8),
        };
        var defaultPrivileges = reader.GetBoolean(9);
        var grants = new List<DatabaseGrant>();
        await reader.NextResultAsync(ctx.Cancellation).ConfigureAwait(false);
        while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
            grants.Add(new DatabaseGrant(Text(0), reader.GetString(1), reader.GetBoolean(2)));
        properties.Grants = defaultPrivileges ? null : grants;
        await reader.NextResultAsync(ctx.Cancellation).ConfigureAwait(false);
        while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
            properties.Settings.Add(new DatabaseSetting(Text(0), reader.GetString(1), reader.GetString(2)));
        return properties;
    }

    /// <summary>Every role these properties name: all must exist on the server a database gets them on.</summary>
    public IEnumerable<string> Roles() =>
        new[] { Owner }.Concat(Grants?.Select(g => g.Grantee) ?? []).Concat(Settings.Select(s => s.Role)).OfType<string>().Distinct(StringComparer.Ordinal);

    /// <summary>The roles of <paramref name="roles"/> that do not exist on the server.</summary>
    public static async Task<List<string>> MissingRolesAsync(NpgsqlConnection connection, IEnumerable<string> roles, OperationContext ctx)
    {
        await using var command = connection.Command("SELECT r FROM unnest(@roles) r WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) ORDER BY 1", ctx);
        command.Parameters.AddWithValue("roles", roles.ToArray());
        var missing = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
        while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
            missing.Add(reader.GetString(0));
        return missing;
    }

    /// <summary>CREATE DATABASE for <paramref name="database"/> with this owner, encoding, locale and tablespace.</summary>
    public string CreateStatement(string database)
    {
        var sql = new StringBuilder($"CREATE DATABASE {SqlQuote.Identifier(database)} TEMPLATE template0 ENCODING {SqlQuote.Literal(Encoding)} LC_COLLATE {SqlQuote.Literal(Collate)} LC_CTYPE {SqlQuote.Literal(Ctype)}");
        if (LocaleProvider is not null)
            sql.Append(CultureInfo.InvariantCulture, $" LOCALE_PROVIDER {LocaleProvider}");
        if (Locale is not null && LocaleProvider is "icu" or "builtin")
            sql.Append(CultureInfo.InvariantCulture, $" {(LocaleProvider == "icu" ? "ICU_LOCALE" : "BUILTIN_LOCALE")} {SqlQuote.Literal(Locale)}");
        sql.Append(CultureInfo.InvariantCulture, $" OWNER {SqlQuote.Identifier(Owner)}");
        if (Tablespace is not null)
            sql.Append(CultureInfo.InvariantCulture, $" TABLESPACE {SqlQuote.Identifier(Tablespace)}");
        return sql.ToString();
    }

    /// <summary>
    /// The statements that give <paramref name="database"/> (created by <see cref="CreateStatement"/>) the
    /// rest: connection limit, comment (replacing any), privileges and settings. All run in a transaction.
    /// </summary>
    public List<string> ApplyStatements(string database)
    {
        var name = SqlQuote.Identifier(database);
        var statements = new List<string>
        {
            $"ALTER DATABASE {name} CONNECTION LIMIT {ConnectionLimit.ToString(CultureInfo.InvariantCulture)}",
            $"COMMENT ON DATABASE {name} IS {(Comment is null ? "NULL" : SqlQuote.Literal(Comment))}",
        };
        if (Grants is not null)
        {
            // Not the defaults: start from nothing, as pg_dump does, then grant exactly what the source had.
            statements.Add($"REVOKE ALL ON DATABASE {name} FROM PUBLIC");
            statements.Add($"REVOKE ALL ON DATABASE {name} FROM {SqlQuote.Identifier(Owner)}");
            foreach (var group in Grants.GroupBy(g => (g.Grantee, g.Grantable)))
                statements.Add($"GRANT {string.Join(", ", group.Select(g => g.Privilege))} ON DATABASE {name} TO " +
                               (group.Key.Grantee is null ? "PUBLIC" : SqlQuote.Identifier(group.Key.Grantee)) + (group.Key.Grantable ? " WITH GRANT OPTION" : ""));
        }
        foreach (var setting in Settings)
            statements.Add((setting.Role is null ? $"ALTER DATABASE {name}" : $"ALTER ROLE {SqlQuote.Identifier(setting.Role)} IN DATABASE {name}") +
                           $" SET {SqlQuote.Identifier(setting.Name)} TO {Value(setting)}");
        return statements;
    }

    /// <summary>
    /// A setting's stored value as SQL: one literal, or for a list setting (search_path) one literal per
    /// element, since the server stores that list with each name quoted as needed ("$user", public).
    /// </summary>
    private static string Value(DatabaseSetting setting) =>
        ListSettings.Contains(setting.Name) ? string.Join(", ", SplitList(setting.Value).Select(SqlQuote.Literal)) : SqlQuote.Literal(setting.Value);

    /// <summary>Splits a stored list setting at commas; double-quoted elements keep commas and spaces, "" is a quote.</summary>
    private static List<string> SplitList(string value)
    {
        var items = new List<string>();
        var i = 0;
        while (true)
        {
            while (i < value.Length && char.IsWhiteSpace(value[i]))
                i++;
            var item = new StringBuilder();
            if (i < value.Length && value[i] == '"')
            {
                for (i++; i < value.Length; i++)
                {
                    if (value[i] == '"' && !(i + 1 < value.Length && value[i + 1] == '"'))
                        break;
                    if (value[i] == '"')
                        i++;
                    item.Append(value[i]);
                }
                i++; // the closing quote
            }
            else
                while (i < value.Length && value[i] != ',' && !char.IsWhiteSpace(value[i]))
                    item.Append(value[i++]);
            items.Add(item.ToString());
            while (i < value.Length && char.IsWhiteSpace(value[i]))
                i++;
            if (i >= value.Length || value[i] != ',')
                return items;
            i++;
        }
    }
}
