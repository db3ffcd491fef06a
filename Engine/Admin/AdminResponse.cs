namespace Engine.Admin;

/// <summary>One admin answer before it is written: status, body and the few extra headers some need.</summary>
internal sealed class AdminResponse(int status, string? contentType, byte[] body)
{
    public int Status { get; } = status;

    public string? ContentType { get; } = contentType;

    public byte[] Body { get; } = body;

    /// <summary>The connection closes after this answer (a throttled authentication).</summary>
    public bool Close { get; set; }

    /// <summary>WWW-Authenticate, Retry-After, Allow, Content-Security-Policy.</summary>
    public List<KeyValuePair<string, string>> Headers { get; } = [];

    public AdminResponse With(string name, string value)
    {
        Headers.Add(new KeyValuePair<string, string>(name, value));
        return this;
    }
}
