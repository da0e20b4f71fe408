namespace PuoOps.Engine;

/// <summary>-Skip and -First of a SupportsPaging cmdlet, as the engine applies them: rows to skip, then at most First (null: all).</summary>
public readonly record struct Page(long Skip, long? First)
{
    public static Page All => new(0, null);
}
