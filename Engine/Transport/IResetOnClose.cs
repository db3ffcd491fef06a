namespace Engine.Transport;

/// <summary>
/// A client writer whose connection can end with a reset instead of a FIN: for a stream that was
/// cut where a FIN would read as its complete end (a close-delimited body, a reset passed on
/// through a tunnel). What was flushed before still goes first; the connection's owner closes as
/// usual, and that close is the reset.
/// </summary>
internal interface IResetOnClose
{
    void ResetOnClose();
}
