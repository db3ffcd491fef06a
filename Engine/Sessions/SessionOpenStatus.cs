namespace Engine.Sessions;

internal enum SessionOpenStatus : byte
{
    /// <summary>No live session had this id: one now exists, locked to the request's rules.</summary>
    Created,
    /// <summary>A live session with the same rules.</summary>
    Resumed,
    /// <summary>409 SESSION_PARAMS_MISMATCH: the id is live with other rules.</summary>
    Mismatch,
    /// <summary>No live session and none created (<c>OpenAsync(create: false)</c>): bind one when a node carries the request.</summary>
    Absent,
}
