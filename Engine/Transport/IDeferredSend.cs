namespace Engine.Transport;

/// <summary>
/// Bytes a caller on an event loop has handed over as sent, held for the end of the loop's batch
/// (<see cref="EpollLoop.DeferSend"/>) so that the batch's sends go out back to back.
/// </summary>
internal interface IDeferredSend
{
    /// <summary>Sends what was held (the loop's thread, after every continuation of the batch ran); never throws.</summary>
    void SendDeferred();
}
