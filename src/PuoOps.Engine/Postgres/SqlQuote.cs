namespace PuoOps.Engine.Postgres;

/// <summary>
/// The one way names and text go into statements that cannot take parameters (VACUUM, REINDEX, CREATE
/// DATABASE, COMMENT, pg_dump --table): quoted, so a name is only ever a name.
/// </summary>
public static class SqlQuote
{
    /// <summary>A quoted identifier: "name", a double quote doubled.</summary>
    public static string Identifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>A quoted, schema-qualified name: "schema"."name".</summary>
    public static string Identifier(string schema, string name) => Identifier(schema) + "." + Identifier(name);

    /// <summary>A string literal: 'text', a single quote doubled (standard_conforming_strings, on since PostgreSQL 9.1).</summary>
    public static string Literal(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";
}
