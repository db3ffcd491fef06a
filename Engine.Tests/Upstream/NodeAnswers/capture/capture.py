# Sends one raw request to a proxy and writes the response bytes exactly as received.
import socket, sys, time
def capture(port, request, path, wait=12.0):
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(wait)
    s.sendall(request.encode())
    data = b""; start = time.time()
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk: break
            data += chunk
            # CONNECT answers and keep-alive answers: stop once a whole head+body is here
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if cl and len(body) >= int(cl[0].split(b":")[1]): break
    except socket.timeout:
        pass
    s.close()
    open(path, "wb").write(data)
    print(path, len(data), data.split(b"\r\n")[0], round(time.time()-start, 1))
cases = [
  ("dns-fail", "GET http://nothing.invalid/ HTTP/1.1\r\nHost: nothing.invalid\r\nUser-Agent: capture\r\n\r\n"),
  ("refused", "GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: 127.0.0.1:1\r\nUser-Agent: capture\r\n\r\n"),
  ("read-timeout", "GET http://127.0.0.1:9001/ HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUser-Agent: capture\r\n\r\n"),
  ("reset", "GET http://127.0.0.1:9002/ HTTP/1.1\r\nHost: 127.0.0.1:9002\r\nUser-Agent: capture\r\n\r\n"),
  ("half-head-reset", "GET http://127.0.0.1:9003/ HTTP/1.1\r\nHost: 127.0.0.1:9003\r\nUser-Agent: capture\r\n\r\n"),
  ("rst", "GET http://127.0.0.1:9004/ HTTP/1.1\r\nHost: 127.0.0.1:9004\r\nUser-Agent: capture\r\n\r\n"),
  ("connect-dns-fail", "CONNECT nothing.invalid:443 HTTP/1.1\r\nHost: nothing.invalid:443\r\n\r\n"),
  ("connect-refused", "CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n"),
  ("connect-port-denied", "CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n"),
]
name, port = sys.argv[1], int(sys.argv[2])
for case, req in cases:
    capture(port, req, f"out/{name}-{case}.http")
