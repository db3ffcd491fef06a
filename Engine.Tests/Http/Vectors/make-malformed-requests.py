#!/usr/bin/env python3
"""Writes malformed-requests.jsonl: hand-written vectors for the 15 categories of
../shared/spec/malformed.md, in the conformance format of ../shared/conformance/README.md,
plus "category", "rfc" and, for rejects, the exact reject_reason / error_code / status.
Run: python3 make-malformed-requests.py > malformed-requests.jsonl
Strings are ISO-8859-1 (byte N = U+00NN), like the llhttp vectors."""
import base64, json, sys

H = "Host: example.com\r\n"
vectors = []

def reject(vid, category, rfc, raw, reason, code="BadRequest", status=400, after=0, limits=None, note=None):
    v = {"id": f"malformed/{vid}", "category": category, "rfc": rfc, "type": "request",
         "raw_base64": base64.b64encode(raw.encode("latin-1")).decode(),
         "expect": {"ok": False, "after_messages": after, "reject_reason": reason, "error_code": code, "status": status}}
    if limits: v["limits"] = limits
    if note: v["notes"] = [note]
    vectors.append(v)

def accept(vid, category, rfc, raw, messages, limits=None, note=None, **extra):
    v = {"id": f"malformed/{vid}", "category": category, "rfc": rfc, "type": "request",
         "raw_base64": base64.b64encode(raw.encode("latin-1")).decode(),
         "expect": dict({"ok": True, "messages": messages}, **extra)}
    if limits: v["limits"] = limits
    if note: v["notes"] = [note]
    vectors.append(v)

def msg(method, url, version, headers, body="", chunked=False, trailers=None):
    m = {"method": method, "url": url, "version": version, "headers": headers,
         "body_base64": base64.b64encode(body.encode("latin-1")).decode()}
    if chunked: m["chunked"] = True
    if trailers: m["trailers"] = trailers
    return m

# 1. Content-Length with Transfer-Encoding
reject("cl-te:cl-first", 1, "RFC 9112 6.1, 6.3 rule 3", "POST / HTTP/1.1\r\n" + H + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", "ContentLengthAndTransferEncoding", note="CL.TE")
reject("cl-te:te-first", 1, "RFC 9112 6.1, 6.3 rule 3", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", "ContentLengthAndTransferEncoding", note="TE.CL")
reject("cl-te:cl0", 1, "RFC 9112 6.1", "GET / HTTP/1.1\r\n" + H + "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "ContentLengthAndTransferEncoding", note="CL.0")
reject("cl-te:empty-te", 1, "RFC 9112 6.1", "POST / HTTP/1.1\r\n" + H + "Content-Length: 5\r\nTransfer-Encoding:\r\n\r\nhello", "ContentLengthAndTransferEncoding")

# 2. Invalid or conflicting Content-Length
reject("cl:duplicate-differs", 2, "RFC 9112 6.3 rule 5", "POST / HTTP/1.1\r\n" + H + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "ConflictingContentLength")
reject("cl:list-differs", 2, "RFC 9110 8.6", "POST / HTTP/1.1\r\n" + H + "Content-Length: 5, 6\r\n\r\nhello!", "ConflictingContentLength")
reject("cl:plus-sign", 2, "RFC 9110 8.6", "POST / HTTP/1.1\r\n" + H + "Content-Length: +5\r\n\r\nhello", "InvalidContentLength")
reject("cl:negative", 2, "RFC 9110 8.6", "POST / HTTP/1.1\r\n" + H + "Content-Length: -1\r\n\r\n", "InvalidContentLength")
reject("cl:empty", 2, "RFC 9110 8.6", "POST / HTTP/1.1\r\n" + H + "Content-Length: \r\n\r\n", "InvalidContentLength", note="empty Content-Length forwarded by HAProxy, CVE-2023-40225")
reject("cl:hex", 2, "RFC 9110 8.6", "POST / HTTP/1.1\r\n" + H + "Content-Length: 0x5\r\n\r\nhello", "InvalidContentLength")
reject("cl:overflow", 2, "RFC 9110 8.6", "POST / HTTP/1.1\r\n" + H + "Content-Length: 99999999999999999999\r\n\r\n", "InvalidContentLength")
reject("cl:list-empty-member", 2, "RFC 9110 8.6", "POST / HTTP/1.1\r\n" + H + "Content-Length: 5,\r\n\r\nhello", "InvalidContentLength")
reject("cl:inner-space", 2, "RFC 9110 8.6", "POST / HTTP/1.1\r\n" + H + "Content-Length: 1 0\r\n\r\nhello", "InvalidContentLength")
accept("cl:list-agrees", 2, "RFC 9110 8.6", "POST / HTTP/1.1\r\n" + H + "Content-Length: 5, 5\r\n\r\nhello",
       [msg("POST", "/", "1.1", [["Host", "example.com"], ["Content-Length", "5, 5"]], "hello")])
accept("cl:duplicate-agrees", 2, "RFC 9112 6.3 rule 5", "POST / HTTP/1.1\r\n" + H + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
       [msg("POST", "/", "1.1", [["Host", "example.com"], ["Content-Length", "3"], ["Content-Length", "3"]], "abc")])

# 3. Transfer-Encoding codings
reject("te:xchunked", 3, "RFC 9112 6.1", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", "UnknownTransferCoding", "NotImplemented", 501, note="TE.TE obfuscation")
reject("te:quoted", 3, "RFC 9112 6.1", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n", "UnknownTransferCoding", "NotImplemented", 501)
reject("te:chunked-identity", 3, "RFC 9112 6.3 rule 4", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", "TransferEncodingNotChunkedLast")
reject("te:gzip-only", 3, "RFC 9112 6.3 rule 4", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: gzip\r\n\r\nabc", "TransferEncodingNotChunkedLast")
reject("te:chunked-twice-list", 3, "RFC 9112 6.1", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", "ChunkedTwice")
reject("te:chunked-twice-lines", 3, "RFC 9112 6.1", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "ChunkedTwice")
reject("te:chunked-then-gzip-lines", 3, "RFC 9112 6.3 rule 4", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n", "TransferEncodingNotChunkedLast")
accept("te:tab-ows", 3, "RFC 9110 5.6.3 (OWS includes HTAB)", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding:\tchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
       [msg("POST", "/", "1.1", [["Host", "example.com"], ["Transfer-Encoding", "chunked"]], "abc", chunked=True)],
       note="valid: a tab is optional whitespace, not an obfuscation")
accept("te:gzip-chunked", 3, "RFC 9112 6.1", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: gzip, CHUNKED\r\n\r\n2\r\nab\r\n0\r\n\r\n",
       [msg("POST", "/", "1.1", [["Host", "example.com"], ["Transfer-Encoding", "gzip, CHUNKED"]], "ab", chunked=True)])

# 4. Transfer-Encoding in HTTP/1.0
reject("te-http10:chunked", 4, "RFC 9112 6.1", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "TransferEncodingHttp10")
reject("te-http10:with-host", 4, "RFC 9112 6.1", "POST / HTTP/1.0\r\n" + H + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "TransferEncodingHttp10")

# 5. Whitespace between field name and colon
reject("ws-colon:te", 5, "RFC 9112 5.1", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", "WhitespaceBeforeColon", note="TE.TE obfuscation")
reject("ws-colon:tab", 5, "RFC 9112 5.1", "GET / HTTP/1.1\r\nHost\t: example.com\r\n\r\n", "WhitespaceBeforeColon")
reject("ws-colon:cl", 5, "RFC 9112 5.1", "POST / HTTP/1.1\r\n" + H + "Content-Length  : 5\r\n\r\nhello", "WhitespaceBeforeColon")

# 6. obs-fold, whitespace line after the request line
reject("fold:space", 6, "RFC 9112 5.2", "GET / HTTP/1.1\r\n" + H + "X-A: b\r\n c\r\n\r\n", "ObsFold")
reject("fold:tab", 6, "RFC 9112 5.2", "GET / HTTP/1.1\r\n" + H + "X-A: b\r\n\tc\r\n\r\n", "ObsFold")
reject("fold:te", 6, "RFC 9112 5.2", "POST / HTTP/1.1\r\n" + H + "X: x\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "ObsFold", note="smuggler: leading space on the TE line")
reject("ws-line:space-header", 6, "RFC 9112 2.2", "GET / HTTP/1.1\r\n Host: example.com\r\n\r\n", "WhitespaceAfterRequestLine")
reject("ws-line:tab-line", 6, "RFC 9112 2.2", "GET / HTTP/1.1\r\n\t\r\n" + H + "\r\n", "WhitespaceAfterRequestLine")

# 7. Bare CR, bare LF
reject("bare-cr:header", 7, "RFC 9112 2.2", "GET / HTTP/1.1\r\n" + H + "X: a\rY: b\r\n\r\n", "BareCR")
reject("bare-cr:end-of-head", 7, "RFC 9112 2.2", "GET / HTTP/1.1\r\n" + H + "\rGET /evil HTTP/1.1\r\n", "BareCR")
reject("bare-cr:leading", 7, "RFC 9112 2.2", "\rGET / HTTP/1.1\r\n" + H + "\r\n", "BareCR")
reject("bare-lf:request-line", 7, "RFC 9112 2.2", "GET / HTTP/1.1\n" + H + "\r\n", "BareLF")
reject("bare-lf:header", 7, "RFC 9112 2.2", "GET / HTTP/1.1\r\n" + H + "X: a\nY: b\r\n\r\n", "BareLF")
reject("bare-lf:end-of-head", 7, "RFC 9112 2.2", "GET / HTTP/1.1\r\n" + H + "\n", "BareLF")
reject("bare-lf:leading", 7, "RFC 9112 2.2", "\nGET / HTTP/1.1\r\n" + H + "\r\n", "BareLF")

# 8. Control bytes in a field value
reject("ctl:nul", 8, "RFC 9110 5.5", "GET / HTTP/1.1\r\n" + H + "X: a\x00b\r\n\r\n", "InvalidHeaderValue")
reject("ctl:soh", 8, "RFC 9110 5.5", "GET / HTTP/1.1\r\n" + H + "X: a\x01\r\n\r\n", "InvalidHeaderValue")
reject("ctl:vt-before-chunked", 8, "RFC 9110 5.5", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n", "InvalidHeaderValue", note="smuggler: \\x0b before the value")
reject("ctl:del", 8, "RFC 9110 5.5", "GET / HTTP/1.1\r\n" + H + "X: \x7f\r\n\r\n", "InvalidHeaderValue")
reject("ctl:esc-in-host", 8, "RFC 9110 5.5", "GET / HTTP/1.1\r\nHost: exa\x1bmple.com\r\n\r\n", "InvalidHeaderValue")

# 9. Field names that are not tokens
reject("name:empty", 9, "RFC 9110 5.1", "GET / HTTP/1.1\r\n" + H + ": v\r\n\r\n", "InvalidHeaderName")
reject("name:at", 9, "RFC 9110 5.6.2", "GET / HTTP/1.1\r\n" + H + "X@Y: v\r\n\r\n", "InvalidHeaderName")
reject("name:control", 9, "RFC 9110 5.6.2", "GET / HTTP/1.1\r\n" + H + "X\x01Y: v\r\n\r\n", "InvalidHeaderName")
reject("name:non-ascii", 9, "RFC 9110 5.6.2", "GET / HTTP/1.1\r\n" + H + "Ho\xc3\xa9st: v\r\n\r\n", "InvalidHeaderName")
reject("name:no-colon", 9, "RFC 9112 5.1", "GET / HTTP/1.1\r\n" + H + "NoColon\r\n\r\n", "InvalidHeaderName")
reject("name:vt-after-te", 9, "RFC 9110 5.6.2", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding\x0b: chunked\r\n\r\n0\r\n\r\n", "InvalidHeaderName", note="smuggler: \\x0b after the name")
# Names with _ that CGI/WSGI gateways fold into a framing or hop-by-hop field (RFC 3875 4.1.18): refused
# (issue 19.9), since the origin would see a second framing field the proxy never judged.
reject("name:underscore-te", 9, "RFC 3875 4.1.18", "POST / HTTP/1.1\r\n" + H + "Transfer_Encoding: chunked\r\n\r\n0\r\n\r\n", "UnderscoreFramingName",
       note="nginx ignores underscore names by default (underscores_in_headers off) for this reason")
reject("name:underscore-cl", 9, "RFC 3875 4.1.18", "POST / HTTP/1.1\r\n" + H + "Content-Length: 5\r\ncontent_LENGTH: 0\r\n\r\nhello", "UnderscoreFramingName")
reject("name:underscore-proxy-connection", 9, "RFC 3875 4.1.18", "GET / HTTP/1.1\r\n" + H + "PROXY_CONNECTION: close\r\n\r\n", "UnderscoreFramingName")
reject("name:underscore-keep-alive", 9, "RFC 3875 4.1.18", "GET / HTTP/1.1\r\n" + H + "Keep_Alive: 5\r\n\r\n", "UnderscoreFramingName")
reject("name:underscore-proxy-authorization", 9, "RFC 3875 4.1.18", "GET / HTTP/1.1\r\n" + H + "Proxy_Authorization: Basic eDp5\r\n\r\n", "UnderscoreFramingName")
accept("name:underscore-other-kept", 9, "RFC 9110 5.1", "GET / HTTP/1.1\r\n" + H + "X_Custom_Id: 7\r\nUser_Agent: a\r\n\r\n",
       [msg("GET", "/", "1.1", [["Host", "example.com"], ["X_Custom_Id", "7"], ["User_Agent", "a"]])],
       note="only names folding to framing or hop-by-hop fields are refused")

# 10. Bad request line
reject("rl:double-space", 10, "RFC 9112 3", "GET  / HTTP/1.1\r\n" + H + "\r\n", "InvalidRequestLine")
reject("rl:leading-space", 10, "RFC 9112 3", " GET / HTTP/1.1\r\n" + H + "\r\n", "InvalidRequestLine")
reject("rl:tab-separator", 10, "RFC 9112 3", "GET\t/ HTTP/1.1\r\n" + H + "\r\n", "InvalidRequestLine")
reject("rl:trailing-space", 10, "RFC 9112 3", "GET / HTTP/1.1 \r\n" + H + "\r\n", "InvalidRequestLine")
reject("rl:space-in-target", 10, "RFC 9112 3.2", "GET /a b HTTP/1.1\r\n" + H + "\r\n", "InvalidRequestLine")
reject("rl:del-in-target", 10, "RFC 9112 3.2", "GET /a\x7f HTTP/1.1\r\n" + H + "\r\n", "InvalidTarget")
reject("rl:non-ascii-target", 10, "RFC 9112 3.2", "GET /\xe9 HTTP/1.1\r\n" + H + "\r\n", "InvalidTarget")
reject("rl:method-not-token", 10, "RFC 9110 9.1", "G@T / HTTP/1.1\r\n" + H + "\r\n", "InvalidMethod")
reject("rl:http09", 10, "RFC 9112 3", "GET /\r\n\r\n", "InvalidRequestLine")

# 11. Bad version
reject("ver:two-digit-minor", 11, "RFC 9112 2.3", "GET / HTTP/1.10\r\n" + H + "\r\n", "InvalidVersion")
reject("ver:lowercase", 11, "RFC 9112 2.3", "GET / http/1.1\r\n" + H + "\r\n", "InvalidVersion")
reject("ver:no-minor", 11, "RFC 9112 2.3", "GET / HTTP/1\r\n" + H + "\r\n", "InvalidVersion")
reject("ver:missing", 11, "RFC 9112 3", "GET / \r\n" + H + "\r\n", "InvalidRequestLine")
reject("ver:minor-2", 11, "RFC 9112 2.3", "GET / HTTP/1.2\r\n" + H + "\r\n", "InvalidVersion")
reject("ver:major-2", 11, "RFC 9110 15.6.6", "GET / HTTP/2.0\r\n" + H + "\r\n", "UnsupportedVersion", "VersionNotSupported", 505)
reject("ver:major-0", 11, "RFC 9110 15.6.6", "GET / HTTP/0.9\r\n" + H + "\r\n", "UnsupportedVersion", "VersionNotSupported", 505)
reject("ver:major-3-no-crlf-yet", 11, "RFC 9110 15.6.6", "GET / HTTP/3.0", "UnsupportedVersion", "VersionNotSupported", 505, note="refused before the CRLF arrives")

# 12. Bad chunk framing
C = "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n"
reject("chunk:0x-prefix", 12, "RFC 9112 7.1", C + "0x5\r\nhello\r\n0\r\n\r\n", "InvalidChunkSize")
reject("chunk:plus-prefix", 12, "RFC 9112 7.1", C + "+5\r\nhello\r\n0\r\n\r\n", "InvalidChunkSize")
reject("chunk:underscore", 12, "RFC 9112 7.1", C + "_5\r\nhello\r\n0\r\n\r\n", "InvalidChunkSize")
reject("chunk:empty-size", 12, "RFC 9112 7.1", C + "\r\nhello\r\n0\r\n\r\n", "InvalidChunkSize")
reject("chunk:space-no-semicolon", 12, "RFC 9112 7.1", C + "5 \r\nhello\r\n0\r\n\r\n", "InvalidChunkSize")
reject("chunk:space-junk", 12, "RFC 9112 7.1", C + "5 junk\r\nhello\r\n0\r\n\r\n", "InvalidChunkSize")
reject("chunk:overflow", 12, "RFC 9112 7.1", C + "10000000000000000\r\nhello\r\n0\r\n\r\n", "ChunkSizeOverflow")
reject("chunk:data-too-long", 12, "RFC 9112 7.1", C + "5\r\nhelloX\r\n0\r\n\r\n", "MissingChunkCrlf")
reject("chunk:data-lf-only", 12, "RFC 9112 7.1", C + "5\r\nhello\n0\r\n\r\n", "MissingChunkCrlf")
reject("chunk:bare-lf-size", 12, "RFC 9112 7.1", C + "5\nhello\r\n0\r\n\r\n", "BareLF")
reject("chunk:ext-empty-name", 12, "RFC 9112 7.1.1", C + "5;\r\nhello\r\n0\r\n\r\n", "InvalidChunkExtension")
reject("chunk:ext-unterminated-quote", 12, "RFC 9112 7.1.1", C + "5;a=\"x\r\nhello\r\n0\r\n\r\n", "InvalidChunkExtension")
reject("chunk:ext-too-long", 12, "RFC 9112 7.1.1", C + "5;" + "a" * 40 + "\r\nhello\r\n0\r\n\r\n", "ChunkExtensionTooLong", limits={"max_chunk_extension_bytes": 16})
reject("chunk:ext-total-too-long", 12, "RFC 9112 7.1.1", C + "1;abcdefgh\r\na\r\n1;abcdefgh\r\nb\r\n0\r\n\r\n", "ChunkExtensionTooLong", limits={"max_chunk_extension_bytes": 16}, note="the budget is per message, not per chunk")
reject("chunk:trailer-fold", 12, "RFC 9112 7.1.2, 5.2", C + "0\r\nX: a\r\n b\r\n\r\n", "ObsFold")
reject("chunk:trailer-bad-name", 12, "RFC 9112 7.1.2", C + "0\r\nX Y: a\r\n\r\n", "InvalidHeaderName")
reject("chunk:trailer-too-large", 12, "RFC 9112 7.1.2", C + "0\r\nX-Trailer: " + "v" * 40 + "\r\n\r\n", "TrailerTooLarge", "HeadersTooLarge", 431, limits={"max_trailer_bytes": 32})
accept("chunk:missing-last-chunk", 12, "RFC 9112 7.1", C + "5\r\nhello\r\n", [],
       incomplete={"headers_complete": True, "method": "POST", "url": "/", "version": "1.1",
                   "headers": [["Host", "example.com"], ["Transfer-Encoding", "chunked"]],
                   "body_base64_so_far": base64.b64encode(b"hello").decode(), "chunked": True},
       note="no last chunk: the parser waits; the connection layer treats EOF here as a truncated request")
accept("chunk:extensions-and-trailers", 12, "RFC 9112 7.1.1, 7.1.2", C + "5 ; a = b ;c=\"q\\\"d\"\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n",
       [msg("POST", "/", "1.1", [["Host", "example.com"], ["Transfer-Encoding", "chunked"]], "hello", chunked=True, trailers=[["X-Sum", "1"]])])

# 13. Host
reject("host:missing", 13, "RFC 9112 3.2", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", "MissingHost")
reject("host:missing-absolute-form", 13, "RFC 9112 3.2", "GET http://example.com/ HTTP/1.1\r\n\r\n", "MissingHost")
reject("host:duplicate", 13, "RFC 9112 3.2", "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", "DuplicateHost")
reject("host:duplicate-same", 13, "RFC 9112 3.2", "GET / HTTP/1.1\r\n" + H + H + "\r\n", "DuplicateHost")
reject("host:userinfo", 13, "RFC 9112 3.2", "GET / HTTP/1.1\r\nHost: user@example.com\r\n\r\n", "InvalidHost")
reject("host:space", 13, "RFC 9112 3.2", "GET / HTTP/1.1\r\nHost: exa mple.com\r\n\r\n", "InvalidHost")
reject("host:bad-port", 13, "RFC 9112 3.2", "GET / HTTP/1.1\r\nHost: example.com:99999\r\n\r\n", "InvalidHost")
reject("host:unclosed-ipv6", 13, "RFC 9112 3.2", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", "InvalidHost")
reject("host:duplicate-lenient-policy", 13, "RFC 9112 3.2", "GET / HTTP/1.1\r\n" + H + H + "\r\n", "DuplicateHost", limits={"require_host": False},
       note="RequireHost=false only allows a missing Host")
accept("host:http10-without-host", 13, "RFC 9112 3.2 (HTTP/1.1 only)", "GET / HTTP/1.0\r\n\r\n", [msg("GET", "/", "1.0", [])])
accept("host:ipv6-with-port", 13, "RFC 9112 3.2", "GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n", [msg("GET", "/", "1.1", [["Host", "[2001:db8::1]:8080"]])])

# 14. Absolute-URI with userinfo or empty host
reject("abs:userinfo", 14, "RFC 9110 4.2.4", "GET http://user:pass@example.com/ HTTP/1.1\r\n" + H + "\r\n", "TargetUserinfo")
reject("abs:empty-userinfo", 14, "RFC 9110 4.2.4", "GET http://@example.com/ HTTP/1.1\r\n" + H + "\r\n", "TargetUserinfo")
reject("abs:empty-host", 14, "RFC 9110 4.2.1", "GET http:///path HTTP/1.1\r\n" + H + "\r\n", "EmptyHost")
reject("abs:empty-host-port", 14, "RFC 9110 4.2.1", "GET http://:80/ HTTP/1.1\r\n" + H + "\r\n", "EmptyHost")
reject("abs:port-zero", 14, "RFC 9110 4.2.1", "GET http://example.com:0/ HTTP/1.1\r\n" + H + "\r\n", "InvalidPort")
reject("abs:port-too-big", 14, "RFC 9110 4.2.1", "GET http://example.com:65536/ HTTP/1.1\r\n" + H + "\r\n", "InvalidPort")
reject("abs:unclosed-ipv6", 14, "RFC 3986 3.2.2", "GET http://[::1/ HTTP/1.1\r\n" + H + "\r\n", "InvalidTarget")
accept("abs:ipv6", 14, "RFC 3986 3.2.2", "GET http://[2001:db8::1]:8080/p?q=1 HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n",
       [msg("GET", "http://[2001:db8::1]:8080/p?q=1", "1.1", [["Host", "[2001:db8::1]:8080"]])])

# 15. CONNECT and target forms
reject("connect:no-port", 15, "RFC 9110 9.3.6", "CONNECT example.com HTTP/1.1\r\n" + H + "\r\n", "ConnectWithoutPort")
reject("connect:empty-port", 15, "RFC 9112 3.2.3", "CONNECT example.com: HTTP/1.1\r\n" + H + "\r\n", "InvalidPort")
reject("connect:alpha-port", 15, "RFC 9112 3.2.3", "CONNECT example.com:https HTTP/1.1\r\n" + H + "\r\n", "InvalidPort")
reject("connect:port-zero", 15, "RFC 9112 3.2.3", "CONNECT example.com:0 HTTP/1.1\r\n" + H + "\r\n", "InvalidPort")
reject("connect:port-too-big", 15, "RFC 9112 3.2.3", "CONNECT example.com:70000 HTTP/1.1\r\n" + H + "\r\n", "InvalidPort")
reject("connect:path", 15, "RFC 9112 3.2.3", "CONNECT /index.html HTTP/1.1\r\n" + H + "\r\n", "ConnectNotAuthorityForm")
reject("connect:scheme", 15, "RFC 9112 3.2.3", "CONNECT https://example.com:443 HTTP/1.1\r\n" + H + "\r\n", "ConnectNotAuthorityForm")
reject("connect:authority-path", 15, "RFC 9112 3.2.3", "CONNECT example.com:443/x HTTP/1.1\r\n" + H + "\r\n", "ConnectNotAuthorityForm")
reject("connect:userinfo", 15, "RFC 9112 3.2.3", "CONNECT user@example.com:443 HTTP/1.1\r\n" + H + "\r\n", "TargetUserinfo")
reject("connect:empty-host", 15, "RFC 9112 3.2.3", "CONNECT :443 HTTP/1.1\r\n" + H + "\r\n", "EmptyHost")
reject("form:authority-on-get", 15, "RFC 9112 3.2.3", "GET example.com:443 HTTP/1.1\r\n" + H + "\r\n", "AuthorityFormNotConnect")
reject("form:asterisk-on-get", 15, "RFC 9112 3.2.4", "GET * HTTP/1.1\r\n" + H + "\r\n", "AsteriskNotOptions")
reject("form:asterisk-on-post", 15, "RFC 9112 3.2.4", "POST * HTTP/1.1\r\n" + H + "Content-Length: 0\r\n\r\n", "AsteriskNotOptions")
accept("form:asterisk-options", 15, "RFC 9112 3.2.4", "OPTIONS * HTTP/1.1\r\n" + H + "\r\n", [msg("OPTIONS", "*", "1.1", [["Host", "example.com"]])])
accept("connect:ipv6", 15, "RFC 9112 3.2.3", "CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n\x16\x03\x01",
       [msg("CONNECT", "[2001:db8::1]:443", "1.1", [["Host", "[2001:db8::1]:443"]])],
       upgrade={"after_messages": 1, "offset": 63, "kind": "connect"})
accept("connect:content-length-ignored", 15, "RFC 9110 9.3.6", "CONNECT example.com:443 HTTP/1.1\r\n" + H + "Content-Length: 3\r\n\r\nabc",
       [msg("CONNECT", "example.com:443", "1.1", [["Host", "example.com"], ["Content-Length", "3"]])],
       upgrade={"after_messages": 1, "offset": 74, "kind": "connect"}, note="same policy as llhttp method:96")
reject("connect:bad-content-length", 15, "RFC 9110 8.6", "CONNECT example.com:443 HTTP/1.1\r\n" + H + "Content-Length: x\r\n\r\n", "InvalidContentLength",
       note="CONNECT ignores framing but still refuses malformed framing fields")

# Connection management and limits (malformed.md, closing paragraph)
reject("close:data-after-close", 16, "RFC 9112 9.6", "GET / HTTP/1.1\r\n" + H + "Connection: close\r\n\r\nGET / HTTP/1.1\r\n" + H + "\r\n", "DataAfterClose", after=1)
reject("close:http10-default", 16, "RFC 9112 9.3", "GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n", "DataAfterClose", after=1)
accept("close:http10-keep-alive", 16, "RFC 9112 9.3", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n",
       [msg("GET", "/", "1.0", [["Connection", "keep-alive"]]), msg("GET", "/2", "1.0", [])])
reject("limit:414", 17, "RFC 9110 15.5.15", "GET /" + "a" * 100 + " HTTP/1.1\r\n" + H + "\r\n", "RequestLineTooLong", "UriTooLong", 414, limits={"max_request_line_bytes": 64})
reject("limit:431-line", 17, "RFC 6585 5", "GET / HTTP/1.1\r\n" + H + "X: " + "b" * 100 + "\r\n\r\n", "HeadTooLarge", "HeadersTooLarge", 431, limits={"max_request_head_bytes": 64})
reject("limit:431-total", 17, "RFC 6585 5", "GET / HTTP/1.1\r\n" + H + "X-1: aaaaaaaaaaaaaaaaaaaa\r\nX-2: aaaaaaaaaaaaaaaaaaaa\r\nX-3: aaaaaaaaaaaaaaaaaaaa\r\n\r\n", "HeadTooLarge", "HeadersTooLarge", 431, limits={"max_request_head_bytes": 64})
reject("limit:431-count", 17, "RFC 6585 5", "GET / HTTP/1.1\r\n" + H + "A: 1\r\nB: 2\r\n\r\n", "TooManyHeaders", "HeadersTooLarge", 431, limits={"max_header_count": 2})
reject("limit:crlf-flood", 17, "RFC 9112 2.2", "\r\n" * 40 + "GET / HTTP/1.1\r\n" + H + "\r\n", "TooManyEmptyLines", limits={"max_request_line_bytes": 64})

for v in vectors:
    sys.stdout.write(json.dumps(v, ensure_ascii=True, separators=(",", ":")) + "\n")
