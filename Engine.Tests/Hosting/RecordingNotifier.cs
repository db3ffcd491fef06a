using Microsoft.Extensions.Hosting.Systemd;

namespace Engine.Tests.Hosting;

/// <summary>An enabled <see cref="ISystemdNotifier"/> that keeps what it was told.</summary>
internal sealed class RecordingNotifier : ISystemdNotifier
{
    private readonly List<string> _states = [];

    public bool IsEnabled => true;

    public IReadOnlyList<string> States
    {
        get
        {
            lock (_states)
            {
                return _states.ToArray();
            }
        }
    }

    public void Notify(ServiceState state)
    {
        lock (_states)
        {
            _states.Add(state.ToString());
        }
    }
}
