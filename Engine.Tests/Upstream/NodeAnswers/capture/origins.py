# 9001 silent; 9002 closes at once; 9003 sends half a head then RST; 9004 RST at once.
import socket, threading, time, struct
def serve(port, handler):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", port)); s.listen(16)
    keep = []
    while True:
        c, _ = s.accept(); keep.append(c); threading.Thread(target=handler, args=(c,), daemon=True).start()
def silent(c): pass
def closer(c): c.recv(4096); c.close()
def rst(c):
    c.recv(4096); c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close()
def halfhead(c):
    c.recv(4096); c.sendall(b"HTTP/1.1 200 OK\r\nContent-Ty"); time.sleep(0.2)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close()
for p, h in ((9001, silent), (9002, closer), (9003, halfhead), (9004, rst)):
    threading.Thread(target=serve, args=(p, h), daemon=True).start()
time.sleep(120)
