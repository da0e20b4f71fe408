using System.Text;
using System.Text.Json;

namespace PuoOps.Engine.Deployment;

/// <summary>
/// The switch records, one JSON object per line, in <c>&lt;traffic file name&gt;.history.jsonl</c> beside the traffic file.
/// Each record is appended with one write and fsync, so a run killed mid-way leaves at most a last partial line, which
/// reading skips (the file is input: a line that is not a record is left out and said so).
/// </summary>
public static class DeploymentHistory
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public static string PathFor(string trafficFile) =>
        Path.Combine(Path.GetDirectoryName(trafficFile)!, Path.GetFileNameWithoutExtension(trafficFile) + ".history.jsonl");

    public static async Task<IReadOnlyList<TrafficSwitch>> ReadAsync(OperationContext ctx) =>
        Read(ctx, PathFor(await TrafficService.PathAsync(ctx).ConfigureAwait(false)));

    /// <summary>The records of <paramref name="path"/>, newest first; none when there is no history yet.</summary>
    internal static IReadOnlyList<TrafficSwitch> Read(OperationContext ctx, string path)
    {
        if (!File.Exists(path))
            return [];
        var records = new List<TrafficSwitch>();
        var lines = File.ReadAllLines(path);
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].Length == 0)
                continue;
            try
            {
                records.Add(JsonSerializer.Deserialize<TrafficSwitch>(lines[i], Json) ?? throw new JsonException("null"));
            }
            catch (JsonException)
            {
                ctx.Log($"Line {i + 1} of {path} is not a switch record; it is left out.");
            }
        }
        records.Reverse();
        return records;
    }

    internal static void Append(OperationContext ctx, string path, TrafficSwitch record)
    {
        var line = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(record, Json) + "\n");
        try
        {
            using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
            stream.Write(line);
            stream.Flush(flushToDisk: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The switch happened; losing its record must not make it look as if it had not.
            ctx.Log($"The switch record could not be appended to {path}: {ex.Message}");
        }
    }
}
