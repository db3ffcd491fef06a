namespace Engine.Http;

/// <summary>Result of <see cref="TargetParser"/>: offsets relative to the start of the request-target.</summary>
internal struct TargetParts
{
    public TargetForm Form;
    public SchemeKind Scheme;
    public HostKind HostKind;
    public int HostOffset;
    public int HostLength;
    public int Port;
    public int PathOffset;
    public int PathLength;
}
