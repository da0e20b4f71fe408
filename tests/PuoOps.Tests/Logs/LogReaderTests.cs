using System.IO.Compression;
using System.Text;
using PuoOps.Engine;
using PuoOps.Engine.Logs;

namespace PuoOps.Tests.Logs;

/// <summary>The one log reader: chunks of whole lines in file order, gzip by magic bytes, CRLF, long lines, errors.</summary>
public sealed class LogReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("puo-logreader-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Every line as Search-PuoLog without conditions returns it: number and text.</summary>
    private static List<(long Number, string Text)> AllLines(string path, LogScanStats? stats = null) =>
        LogSearch.Search(path, new LogSearchOptions(), stats ?? new LogScanStats(), null, CancellationToken.None)
            .Select(l => (l.LineNumber, l.Line)).ToList();

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private string WriteGzip(string name, params string[] members)
    {
        var path = Path.Combine(_dir, name);
        using var file = File.Create(path);
        foreach (var member in members)
        {
            // Each member is a whole gzip stream, as `cat a.gz b.gz > c.gz` (or logrotate's delaycompress) makes.
            using var gzip = new GZipStream(file, CompressionLevel.Fastest, leaveOpen: true);
            gzip.Write(Encoding.UTF8.GetBytes(member));
        }
        return path;
    }

    [Fact]
    public void Lines_that_cross_chunk_boundaries_come_back_whole_numbered_and_in_order()
    {
        // About 3.5 MiB of lines of varying length, so several lines straddle the 1 MiB chunks.
        var expected = Enumerable.Range(1, 40_000).Select(i => $"line {i} " + new string((char)('a' + i % 26), i % 157)).ToList();
        var path = Write("many.log", string.Join('\n', expected) + "\n");
        var stats = new LogScanStats();
        var lines = AllLines(path, stats);
        Assert.Equal(expected.Select((text, i) => ((long)i + 1, text)), lines);
        Assert.Equal(expected.Count, stats.Lines);
    }

    [Theory]
    [InlineData(64)] // chunks end exactly at a line's end
    [InlineData(63)]
    [InlineData(65)]
    [InlineData(1000)]
    public void Chunks_split_between_lines_or_inside_them_give_the_same_lines(int lineLength)
    {
        var expected = Enumerable.Range(0, 3 * LogReader.ChunkSize / lineLength + 7).Select(i => i.ToString("D10").PadRight(lineLength - 1, '.')).ToList();
        var path = Write("fixed.log", string.Join('\n', expected) + "\n");
        Assert.Equal(expected.Select((text, i) => ((long)i + 1, text)), AllLines(path));
    }

    [Fact]
    public void A_file_cut_short_while_it_is_read_ends_early_without_an_error()
    {
        // logrotate's copytruncate empties the file a reader has open; the reader stops at the new end.
        var path = Write("rotating.log", string.Concat(Enumerable.Range(1, 400_000).Select(i => $"line {i} duration=5ms\n")));
        var read = 0L;
        foreach (var line in LogSearch.Search(path, new LogSearchOptions(), new LogScanStats(), null, CancellationToken.None))
        {
            if (++read == 1)
                File.WriteAllText(path, "");
            Assert.Equal(read, line.LineNumber);
        }
        Assert.InRange(read, 1, 399_999);
    }

    [Theory]
    [InlineData("a\nb\nc\n", new[] { "a", "b", "c" })]
    [InlineData("a\r\nb\r\nc\r\n", new[] { "a", "b", "c" })]
    [InlineData("a\nb\nc", new[] { "a", "b", "c" })]
    [InlineData("a\r\n\r\nc", new[] { "a", "", "c" })]
    [InlineData("\n\n", new[] { "", "" })]
    [InlineData("", new string[0])]
    [InlineData("only\r", new[] { "only" })]
    public void LF_CRLF_blank_and_unterminated_lines(string text, string[] expected)
    {
        var lines = AllLines(Write("endings.log", text));
        Assert.Equal(expected, lines.Select(l => l.Text));
        Assert.Equal(Enumerable.Range(1, expected.Length).Select(i => (long)i), lines.Select(l => l.Number));
    }

    [Fact]
    public void Gzip_is_told_by_its_magic_bytes_not_its_name()
    {
        var gzipNamedLog = WriteGzip("rotated.log", "one\ntwo\n");
        var plainNamedGz = Write("plain.gz", "three\n");
        Assert.Equal(["one", "two"], AllLines(gzipNamedLog).Select(l => l.Text));
        Assert.Equal(["three"], AllLines(plainNamedGz).Select(l => l.Text));
    }

    [Fact]
    public void A_gzip_file_of_several_members_is_read_to_its_end_with_crlf_across_members()
    {
        var path = WriteGzip("joined.log.gz", "a\r\nb\r\nhalf of ", "a line\r\nc\r\n");
        Assert.Equal([(1L, "a"), (2L, "b"), (3L, "half of a line"), (4L, "c")], AllLines(path));
    }

    [Fact]
    public void A_large_gzip_file_reads_the_same_lines_as_its_plain_text()
    {
        var text = string.Concat(Enumerable.Range(1, 60_000).Select(i => $"2026-11-29 10:00:00 op=x duration={i % 2000}ms id={i}\n"));
        var plain = Write("big.log", text);
        var gzip = WriteGzip("big.log.gz", text);
        Assert.Equal(AllLines(plain), AllLines(gzip));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_line_longer_than_a_chunk_is_matched_on_its_start_and_the_lines_after_it_keep_their_numbers(bool gzip)
    {
        var longLine = "start-of-long " + new string('x', 5 * LogReader.ChunkSize / 2) + " end-of-long";
        var text = $"first\n{longLine}\nthird duration=1500ms\n{string.Concat(Enumerable.Repeat("filler line\n", 200_000))}last\n";
        var path = gzip ? WriteGzip("long.log.gz", text) : Write("long.log", text);
        var stats = new LogScanStats();
        var found = LogSearch.Search(path, new LogSearchOptions(Pattern: LogSearch.Pattern("^start-of-long|third|^last|end-of-long", false)),
            stats, null, CancellationToken.None).ToList();
        Assert.Equal([2L, 3L, 200_004L], found.Select(l => l.LineNumber));
        Assert.InRange(found[0].Line.Length, LogReader.ChunkSize - 6, longLine.Length - 1); // cut, so " end-of-long" is not in it
        Assert.Equal(1, stats.TruncatedLines);
        Assert.Equal(200_004, stats.Lines);
    }

    [Fact]
    public void Damaged_gzip_data_is_an_error_naming_the_file()
    {
        var path = WriteGzip("damaged.log.gz", string.Concat(Enumerable.Range(1, 20_000).Select(i => $"line {i} {Guid.NewGuid()}\n")));
        var bytes = File.ReadAllBytes(path);
        for (var i = bytes.Length / 2; i < bytes.Length / 2 + 64; i++)
            bytes[i] ^= 0x5A;
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<PuoException>(() => AllLines(path));
        Assert.Equal("PuoOps.Logs.CorruptGzip", error.ErrorId);
        Assert.Equal(path, error.Target);
    }

    [Fact]
    public void A_file_that_may_not_be_read_is_PermissionDenied_naming_it()
    {
        // Tests run as root, who may read any ordinary file; /proc/sys/vm/drop_caches is write-only for everyone.
        const string unreadable = "/proc/sys/vm/drop_caches";
        var error = Assert.Throws<PuoException>(() => AllLines(unreadable));
        Assert.Equal(ErrorKind.PermissionDenied, error.Kind);
        Assert.Equal("PuoOps.Logs.PermissionDenied", error.ErrorId);
        Assert.Contains(unreadable, error.Message);
    }

    [Fact]
    public void A_missing_file_is_NotFound_naming_it()
    {
        var missing = Path.Combine(_dir, "missing.log");
        var error = Assert.Throws<PuoException>(() => AllLines(missing));
        Assert.Equal(ErrorKind.NotFound, error.Kind);
        Assert.Contains(missing, error.Message);
    }

    [Fact]
    public void Cancelling_mid_file_stops_the_reading()
    {
        var path = Write("cancel.log", string.Concat(Enumerable.Range(1, 200_000).Select(i => $"line {i} duration=5ms\n")));
        using var cancel = new CancellationTokenSource();
        var read = 0;
        Assert.ThrowsAny<OperationCanceledException>(() =>
        {
            foreach (var _ in LogSearch.Search(path, new LogSearchOptions(), new LogScanStats(), null, cancel.Token))
            {
                if (++read == 10)
                    cancel.Cancel();
            }
        });
        Assert.InRange(read, 10, LogReader.ChunkSize / 10); // stopped within the chunk it was in, not at the end of the file
    }
}
