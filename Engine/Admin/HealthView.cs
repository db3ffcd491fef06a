namespace Engine.Admin;

/// <summary><c>/healthz</c> and <c>/readyz</c>: <c>live</c>, <c>ready</c>, or why not.</summary>
internal sealed record HealthView(string Status, bool Accepting, bool StateDegraded);
