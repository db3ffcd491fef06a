namespace Engine.Sessions;

/// <summary>A live session as the admin API shows it: its node, how far it is into its terms.</summary>
/// <param name="NodeId">The node the session is bound to; null before its first request went through.</param>
/// <param name="RequestsOnNode">Requests through <paramref name="NodeId"/> since it was bound (for <c>rotate-requests_N</c>).</param>
/// <param name="Age">Time since the session was created.</param>
/// <param name="ExpiresIn">Time until its length or idle time is over, whichever comes first.</param>
/// <param name="Terms">The timing rules it was created with.</param>
internal sealed record SessionInfo(string? NodeId, int RequestsOnNode, TimeSpan Age, TimeSpan ExpiresIn, SessionTerms Terms);
