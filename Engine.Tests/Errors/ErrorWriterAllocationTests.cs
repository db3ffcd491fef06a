using System.Buffers;
using System.IO.Pipelines;
using Engine.Errors;

namespace Engine.Tests.Errors;

public class ErrorWriterAllocationTests
{
    [Fact]
    public void Write_EveryCodeIntoAReusedBufferWriter_AllocatesNothing()
    {
        Assert.Equal(0, ErrorWriterAllocation.MeasureWrites().Bytes);
    }

    [Fact]
    public void Write_HostileDetailAndLongTarget_AllocatesNothing()
    {
        var writer = new ErrorWriter(ErrorExample.DefaultOptions);
        var buffer = new ArrayBufferWriter<byte>(64 * 1024);
        byte[] detail = [.. "bad \"value\"\r\n\0 é"u8, 0xFF, .. new byte[2000]];
        byte[] target = new byte[8192];
        Array.Fill(target, (byte)'a');

        void WriteOnce()
        {
            buffer.ResetWrittenCount();
            writer.Write(buffer, new ErrorResponse(ErrorCode.BadRequest) { Detail = detail, Method = "GET"u8, Target = target, CorrelationId = CorrelationId.Next() });
        }

        for (int i = 0; i < 200; i++)
        {
            WriteOnce();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            WriteOnce();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Write_IntoAPipeWriterWithAReader_AllocatesNothingInSteadyState()
    {
        var writer = new ErrorWriter(ErrorExample.DefaultOptions);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        ErrorExample example = ErrorExample.For(ErrorCode.RateLimitExceeded);

        void WriteOnce()
        {
            writer.Write(pipe.Writer, example.ToResponse(CorrelationId.Next()));
            ValueTask<FlushResult> flush = pipe.Writer.FlushAsync();
            Assert.True(flush.IsCompletedSuccessfully);
            Assert.True(pipe.Reader.TryRead(out ReadResult read));
            pipe.Reader.AdvanceTo(read.Buffer.End);
        }

        for (int i = 0; i < 200; i++)
        {
            WriteOnce();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            WriteOnce();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
