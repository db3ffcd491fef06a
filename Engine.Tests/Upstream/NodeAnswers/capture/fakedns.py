# NXDOMAIN for every query, on 127.0.0.1:53 inside the capture's network namespace: header + question only.
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 53))
while True:
    q, a = s.recvfrom(4096)
    if len(q) < 12: continue
    i = 12
    while i < len(q) and q[i] != 0: i += q[i] + 1
    question = q[12:i + 5]
    header = q[0:2] + bytes([0x81 | (q[2] & 0x01), 0x83]) + b"\x00\x01" + b"\x00\x00" * 3
    s.sendto(header + question, a)
