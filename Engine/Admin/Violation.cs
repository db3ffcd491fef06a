namespace Engine.Admin;

/// <summary>One reason a 422 was answered: the path parameter (<c>id</c>, <c>package</c>) and what it must be.</summary>
internal sealed record Violation(string Field, string Message);
