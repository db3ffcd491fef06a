using System.Net;
using System.Text;
using System.Text.Json;
using Engine.Diagnostics;

namespace Engine.Tests.Diagnostics;

public class RotatingFileStreamTests
{
    private static AccessLogEntry Entry(byte[] id) => new()
    {
        Time = DateTimeOffset.UnixEpoch,
        CorrelationId = id,
        Client = new IPEndPoint(IPAddress.Loopback, 5555),
        PackageId = "demo",
        Method = "GET"u8,
        Target = "http://example.com/some/path"u8,
        NodeId = "local",
        Status = 200,
        Termination = TerminationState.Normal,
        Attempts = 1,
    };

    [Fact]
    public async Task Write_PastMaxBytes_RotatesBetweenLines_AndKeepsAtMostMaxFiles()
    {
        DirectoryInfo directory = Directory.CreateTempSubdirectory("engine-accesslog-");
        try
        {
            string path = Path.Combine(directory.FullName, "access.log");
            const int MaxBytes = 4096;
            const int Lines = 200;   // ~250 bytes each: about 12 files' worth
            var file = new RotatingFileStream(path, MaxBytes, maxFiles: 3);
            await using (var log = new AccessLog(file, AccessLogFormat.Json, ownsSink: true))
            {
                byte[] id = new byte[16];
                for (int i = 0; i < Lines; i++)
                {
                    i.TryFormat(id, out _, "x16", System.Globalization.CultureInfo.InvariantCulture);
                    log.Write(Entry(id));
                }
            }

            Assert.True(file.Rotations >= 9, $"{file.Rotations} rotations");
            string[] files = [.. directory.GetFiles().Select(f => f.Name).Order(StringComparer.Ordinal)];
            Assert.Equal(["access.log", "access.log.1", "access.log.2"], files);
            var ids = new List<int>();
            foreach (string name in (string[])["access.log.2", "access.log.1", "access.log"])
            {
                byte[] bytes = await File.ReadAllBytesAsync(Path.Combine(directory.FullName, name));
                Assert.InRange(bytes.Length, 1, MaxBytes);
                Assert.Equal((byte)'\n', bytes[^1]);
                ids.AddRange(Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                    .Select(l => int.Parse(JsonDocument.Parse(l).RootElement.GetProperty("cid").GetString()!, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture)));
            }

            // The newest lines survive, in order, none cut in half.
            Assert.Equal(Enumerable.Range(Lines - ids.Count, ids.Count), ids);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void Write_MaxFilesOne_StartsTheFileOver()
    {
        DirectoryInfo directory = Directory.CreateTempSubdirectory("engine-accesslog-");
        try
        {
            string path = Path.Combine(directory.FullName, "access.log");
            using (var file = new RotatingFileStream(path, maxBytes: 10, maxFiles: 1))
            {
                file.Write("first\n"u8);
                file.Write("second\n"u8);
                file.Write("third line longer than ten\n"u8);
                Assert.Equal(2, file.Rotations);
            }

            Assert.Equal("third line longer than ten\n", File.ReadAllText(path));
            Assert.Single(directory.GetFiles());
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void Constructor_ExistingFile_AppendsAndCountsItsSize()
    {
        DirectoryInfo directory = Directory.CreateTempSubdirectory("engine-accesslog-");
        try
        {
            string path = Path.Combine(directory.FullName, "access.log");
            File.WriteAllText(path, "old line\n");
            using (var file = new RotatingFileStream(path, maxBytes: 12, maxFiles: 2))
            {
                file.Write("new\n"u8);
            }

            Assert.Equal("old line\n", File.ReadAllText(path + ".1"));
            Assert.Equal("new\n", File.ReadAllText(path));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
