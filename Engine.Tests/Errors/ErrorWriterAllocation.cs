using System.Buffers;
using Engine.Errors;

namespace Engine.Tests.Errors;

/// <summary>Measures the writer's allocations per error; shared by its own test and the allocation budget.</summary>
internal static class ErrorWriterAllocation
{
    /// <summary>Bytes allocated by <see cref="ErrorWriter.Write"/> over 100 rounds of every code's example, after warm-up.</summary>
    public static Engine.Tests.Diagnostics.AllocationMeasurement MeasureWrites()
    {
        var writer = new ErrorWriter(ErrorExample.DefaultOptions);
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        ErrorExample[] examples = ErrorExample.Codes.Select(ErrorExample.For).ToArray();

        void Round()
        {
            foreach (ErrorExample example in examples)
            {
                buffer.ResetWrittenCount();
                writer.Write(buffer, example.ToResponse(CorrelationId.Next()));
            }
        }

        for (int i = 0; i < 50; i++)
        {
            Round();
        }

        const int Rounds = 100;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Rounds; i++)
        {
            Round();
        }

        return new(GC.GetAllocatedBytesForCurrentThread() - before, Rounds * examples.Length, 0, "write");
    }
}
