namespace Engine.Http;

/// <summary>Outcome of one <see cref="BodyReader.Read"/> call.</summary>
internal enum BodyStatus : byte
{
    /// <summary>More bytes are needed.</summary>
    Incomplete = 0,

    /// <summary>A slice of content was produced and consumed from the reader.</summary>
    Data,

    /// <summary>The message body (and any trailer section) is complete.</summary>
    Complete,

    /// <summary>The body framing is invalid; see <see cref="BodyReader.RejectReason"/>. Answer and close.</summary>
    Rejected,
}
