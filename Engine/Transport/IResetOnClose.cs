namespace Engine.Transport;

/// <summary>
/// A client writer whose connection can end with a reset instead of a FIN: for a stream that was
/// cut where a FIN would read as its complete end (a close-delimited body, a reset passed on
/// through a tunnel). What was flushed before still goes first; the connection's owner closes as
/// usual, and that close is the reset.
/// </summary>
internal interface IResetOnClose
{
    /// <summary>The stream was cut: the connection's close is to be a reset.</summary>
    void ResetOnClose();

    /// <summary>
    /// While set, the connection's end is a reset unless the stream ends normally first: set while a
    /// close-delimited body goes out, cleared at its end. What ends the connection then (the
    /// exchange's own failure, or the shutdown's cut from another thread) resets it.
    /// </summary>
    bool ResetIfCut { get; set; }
}
