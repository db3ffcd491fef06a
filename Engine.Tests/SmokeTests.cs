namespace Engine.Tests;

public class SmokeTests
{
    [Fact]
    public void ErrorCode_None_IsZero() => Assert.Equal(0, (int)Engine.Errors.ErrorCode.None);
}
