using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Http;
using Engine.Transport;

namespace Engine.Connection;

internal sealed partial class ProxyConnection
{
    /// <summary>Ends a connection whose next request never became a complete head.</summary>
    private async ValueTask FinishUnparsedAsync(HeadOutcome outcome)
    {
        switch (outcome)
        {
            case HeadOutcome.Rejected:
                BeginRequest();
                WriteError(ProxyFailures.Rejected(_reader.RejectReason), keepAlive: false);
                await FlushAsync().ConfigureAwait(false);
                WriteAccessLog();
                break;
            case HeadOutcome.HeadTimeout:
                BeginRequest();
                WriteError(ProxyFailures.HeadTimeout, keepAlive: false);
                await FlushAsync().ConfigureAwait(false);
                WriteAccessLog();
                break;
            case HeadOutcome.Truncated:
                BeginRequest();
                _request.Termination = new TerminationState(TerminationCause.ClientAbort, TerminationPhase.Request);
                WriteAccessLog();
                break;
        }
    }
}
