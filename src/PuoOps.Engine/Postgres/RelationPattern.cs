using Npgsql;

namespace PuoOps.Engine.Postgres;

/// <summary>
/// What -Schema with -Table (or -Index) select, by <see cref="NamePattern"/>'s rule; a qualified
/// <c>schema.name</c> names the schema too. The server matches it as regular expressions (<c>name ~* @pattern</c>),
/// so typed text is never SQL.
/// </summary>
public sealed class RelationPattern
{
    private RelationPattern(NamePattern? schema, NamePattern? name)
    {
        Schema = schema;
        Name = name;
    }

    /// <summary>Null: any application schema (system schemas only when named).</summary>
    public NamePattern? Schema { get; }

    /// <summary>Null: every relation.</summary>
    public NamePattern? Name { get; }

    public static RelationPattern All { get; } = new(null, null);

    /// <summary>
    /// A name without wildcards (in a schema without wildcards, if one is given): when it matches nothing, that
    /// is an ObjectNotFound error rather than an empty answer.
    /// </summary>
    public bool IsLiteral => Name is { HasWildcards: false } && Schema is not { HasWildcards: true };

    /// <summary>
    /// -Schema and -Table as typed (null or empty: not given). <paramref name="name"/> may be <c>schema.name</c>;
    /// then -Schema, if also given, must say the same.
    /// </summary>
    public static RelationPattern Parse(string? schema, string? name)
    {
        var schemaPattern = string.IsNullOrEmpty(schema) ? null : NamePattern.Parse(schema);
        if (string.IsNullOrEmpty(name))
            return new RelationPattern(schemaPattern, null);
        var (qualifier, namePattern) = NamePattern.ParseQualified(name);
        if (qualifier is not null && schemaPattern is not null && !string.Equals(qualifier.Text, schemaPattern.Text, StringComparison.OrdinalIgnoreCase))
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Postgres.TwoSchemas",
                $"'{name}' names the schema '{qualifier.Text}', and -Schema says '{schema}'. Give the schema once.", name);
        return new RelationPattern(qualifier ?? schemaPattern, namePattern);
    }

    /// <summary>Exactly the relation <paramref name="schema"/>.<paramref name="name"/>, whatever characters they hold.</summary>
    public static RelationPattern Exact(string schema, string name) =>
        new(NamePattern.Parse(NamePattern.Escape(schema)), NamePattern.Parse(NamePattern.Escape(name)));

    /// <summary>
    /// -Schema, -Table and -Index together: the tables whose indexes are read and the indexes, in one schema that
    /// any of the three may name.
    /// </summary>
    public static (RelationPattern Tables, RelationPattern Indexes) ParseIndexes(string? schema, string? table, string? index)
    {
        var tables = Parse(schema, table);
        var indexes = Parse(tables.Schema?.Text, index);
        return (new RelationPattern(indexes.Schema, tables.Name), indexes);
    }

    /// <summary>Whether <paramref name="schema"/>.<paramref name="name"/> is selected, for lists matched in .NET.</summary>
    public bool IsMatch(string schema, string name) => Schema?.IsMatch(schema) != false && Name?.IsMatch(name) != false;

    /// <summary>Sets <c>@schema</c> and <c>@</c><paramref name="nameParameter"/> for <c>nspname ~* @schema AND relname ~* @name</c>.</summary>
    public void AddParameters(NpgsqlParameterCollection parameters, string nameParameter)
    {
        parameters.AddWithValue("schema", (Schema ?? NamePattern.Any).Regex);
        parameters.AddWithValue(nameParameter, (Name ?? NamePattern.Any).Regex);
    }

    public override string ToString() => Schema is null ? Name?.Text ?? "*" : $"{Schema.Text}.{Name?.Text ?? "*"}";
}
