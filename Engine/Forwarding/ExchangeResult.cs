using Engine.Diagnostics;
using Engine.Upstream;

namespace Engine.Forwarding;

/// <summary>
/// What one <see cref="HttpExchange"/> did: how it ended (<see cref="Outcome"/>), which failure
/// when the client has not been answered yet (<see cref="Failure"/>, mapped to the catalog by
/// <c>Errors/ProxyFailures</c>), who ended it and when (<see cref="Termination"/>), the bytes it
/// moved each way, and whether the client connection can carry another request. <see cref="NodeAnswer"/>
/// is an http node's own error answer, classified (<see cref="NodeAnswerClassifier"/>): the <c>upstream</c>
/// member of the error and the log line. <see cref="ClientFramingError"/> says how the client's chunked body broke
/// (<see cref="ExchangeFailure.ClientFraming"/>).
/// </summary>
internal readonly record struct ExchangeResult(
    ExchangeOutcome Outcome,
    TerminationState Termination,
    int Status = 0,
    long BytesIn = 0,
    long BytesOut = 0,
    bool ClientContinues = false,
    ExchangeFailure Failure = ExchangeFailure.None,
    ConnectStatus NodeFailure = ConnectStatus.Connected,
    NodeAnswer NodeAnswer = default,
    ChunkedFramingError ClientFramingError = ChunkedFramingError.None);
