namespace Engine.Http;

/// <summary>Outcome of one <see cref="HttpRequestParser.ParseHead"/> call.</summary>
internal enum ParseStatus : byte
{
    /// <summary>More bytes are needed; complete lines seen so far were consumed.</summary>
    Incomplete = 0,

    /// <summary>The head is complete and its semantics computed; the reader stands at the first body byte.</summary>
    Complete,

    /// <summary>The request is invalid; see <see cref="HttpRequestParser.RejectReason"/>. Answer and close.</summary>
    Rejected,
}
