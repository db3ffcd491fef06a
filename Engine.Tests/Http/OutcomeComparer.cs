using System.Text;
using System.Text.Json;
using Engine.Errors;
using Engine.Http;

namespace Engine.Tests.Http;

/// <summary>Compares a driver outcome with a vector's <c>expect</c> object and lists every difference.</summary>
internal static class OutcomeComparer
{
    public static List<string> Compare(JsonElement expect, DriverOutcome outcome)
    {
        var problems = new List<string>();
        bool ok = expect.GetProperty("ok").GetBoolean();
        if (!ok)
        {
            if (!outcome.Rejected)
            {
                problems.Add($"expected a reject, got {outcome}");
                return problems;
            }

            int after = expect.TryGetProperty("after_messages", out JsonElement a) ? a.GetInt32() : 0;
            if (outcome.Messages.Count != after)
            {
                problems.Add($"rejected after {outcome.Messages.Count} messages, expected {after}");
            }

            // Hand-written vectors name the exact reason, code and status; llhttp's only name its own error.
            if (expect.TryGetProperty("reject_reason", out JsonElement reason) && reason.GetString() != outcome.Reason.ToString())
            {
                problems.Add($"reason {outcome.Reason}, expected {reason.GetString()}");
            }

            if (expect.TryGetProperty("error_code", out JsonElement code) && code.GetString() != RejectReasons.ToErrorCode(outcome.Reason).ToString())
            {
                problems.Add($"error code {RejectReasons.ToErrorCode(outcome.Reason)}, expected {code.GetString()}");
            }

            if (expect.TryGetProperty("status", out JsonElement status) && status.GetInt32() != RejectReasons.ToStatusCode(outcome.Reason))
            {
                problems.Add($"status {RejectReasons.ToStatusCode(outcome.Reason)}, expected {status.GetInt32()}");
            }

            return problems;
        }

        if (outcome.Rejected)
        {
            problems.Add($"unexpected reject {outcome.Reason} after {outcome.Messages.Count} messages");
            return problems;
        }

        JsonElement messages = expect.GetProperty("messages");
        if (messages.GetArrayLength() != outcome.Messages.Count)
        {
            problems.Add($"{outcome.Messages.Count} messages, expected {messages.GetArrayLength()}");
        }

        int index = 0;
        foreach (JsonElement message in messages.EnumerateArray())
        {
            if (index < outcome.Messages.Count)
            {
                CompareMessage($"message {index}", message, outcome.Messages[index], "body_base64", problems);
            }

            index++;
        }

        if (expect.TryGetProperty("incomplete", out JsonElement incomplete))
        {
            bool headersComplete = incomplete.GetProperty("headers_complete").GetBoolean();
            if (!outcome.Incomplete || outcome.HeadersComplete != headersComplete)
            {
                problems.Add($"expected incomplete (headers_complete={headersComplete}), got {outcome}");
            }
            else if (headersComplete)
            {
                CompareMessage("incomplete message", incomplete, outcome.Partial!, "body_base64_so_far", problems);
            }
        }
        else if (outcome.Incomplete)
        {
            problems.Add($"unexpected incomplete message: {outcome}");
        }

        if (expect.TryGetProperty("upgrade", out JsonElement upgrade))
        {
            string kind = upgrade.GetProperty("kind").GetString()!;
            long offset = upgrade.GetProperty("offset").GetInt64();
            int after = upgrade.GetProperty("after_messages").GetInt32();
            if (outcome.StopKind != kind || outcome.StopOffset != offset || outcome.Messages.Count != after)
            {
                problems.Add($"expected {kind} at {offset} after {after}, got {outcome}");
            }
        }
        else if (outcome.StopKind is not null)
        {
            problems.Add($"unexpected stop: {outcome}");
        }

        return problems;
    }

    private static void CompareMessage(string label, JsonElement expected, DriverMessage actual, string bodyProperty, List<string> problems)
    {
        Check(problems, label, "method", expected.GetProperty("method").GetString(), actual.Method);
        Check(problems, label, "url", expected.GetProperty("url").GetString(), actual.Url);
        Check(problems, label, "version", expected.GetProperty("version").GetString(), actual.Version);
        Check(problems, label, "headers", Pairs(expected, "headers"), Format(actual.Headers));
        Check(problems, label, "trailers", Pairs(expected, "trailers"), Format(actual.Trailers));
        if (expected.TryGetProperty(bodyProperty, out JsonElement body))
        {
            Check(problems, label, "body", Encoding.Latin1.GetString(Convert.FromBase64String(body.GetString()!)), Encoding.Latin1.GetString(actual.Body));
        }

        // The converter sets "chunked" from llhttp's chunk events, so an incomplete message that has
        // not reached a chunk yet carries no flag: only a present flag is checked there.
        bool present = expected.TryGetProperty("chunked", out JsonElement c);
        bool chunked = present && c.GetBoolean();
        bool partial = bodyProperty == "body_base64_so_far";
        if (chunked != actual.Chunked && (present || !partial))
        {
            problems.Add($"{label}: chunked {actual.Chunked}, expected {chunked}");
        }
    }

    private static string Pairs(JsonElement message, string property)
    {
        if (!message.TryGetProperty(property, out JsonElement pairs))
        {
            return "";
        }

        return string.Join(" | ", pairs.EnumerateArray().Select(p => $"{p[0].GetString()}: {p[1].GetString()}"));
    }

    private static string Format(IReadOnlyList<(string Name, string Value)> pairs) =>
        string.Join(" | ", pairs.Select(p => $"{p.Name}: {p.Value}"));

    private static void Check(List<string> problems, string label, string what, string? expected, string actual)
    {
        if (!string.Equals(expected, actual, StringComparison.Ordinal))
        {
            problems.Add($"{label}: {what} '{Escape(actual)}', expected '{Escape(expected ?? "")}'");
        }
    }

    private static string Escape(string s) => s.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
