namespace Engine.Transport;

/// <summary>The client's connection broke (reset or aborted): completes the input pipe with this.</summary>
internal sealed class ConnectionResetException : IOException
{
    public ConnectionResetException()
    {
    }

    public ConnectionResetException(string message)
        : base(message)
    {
    }

    public ConnectionResetException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
