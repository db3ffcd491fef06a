namespace Engine.Sessions;

/// <summary>
/// What a session says about the request's node: <see cref="NodeId"/> to reuse, or null to
/// pick one (new session, or a rotate rule fired — then <see cref="PreviousNodeId"/> is the node
/// being rotated away from).
/// </summary>
internal readonly record struct SessionOpened(SessionOpenStatus Status, string? NodeId = null, string? PreviousNodeId = null);
