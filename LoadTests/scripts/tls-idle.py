#!/usr/bin/env python3
# tls-idle.py N ENGINE_PID [PORT]: holds N idle CONNECT tunnels (a GET through each first) to the engine
# on 127.0.0.1:PORT (19443: TLS to the proxy, as `curl --proxy https://`; any other port: plain) and
# prints the engine's RSS per tunnel (50 tunnels first to warm its pools, then N more, 100 at a time).
# The engine needs an https listener on 19443 and the bench config's IP auth (docs/performance.md,
# "Idle TLS tunnels"); the origin from ../shared/bench/peers on 18080.
import asyncio, ssl, sys, time, os
N=int(sys.argv[1]); PID=int(sys.argv[2]); PORT=int(sys.argv[3]) if len(sys.argv)>3 else 19443; USE_TLS=PORT==19443
def rss(): 
    for l in open(f'/proc/{PID}/status'):
        if l.startswith('VmRSS'): return int(l.split()[1])
ctx=ssl.create_default_context(); ctx.check_hostname=False; ctx.verify_mode=ssl.CERT_NONE
async def one(i, held):
    r,w=await asyncio.open_connection('127.0.0.1',PORT, ssl=ctx if USE_TLS else None)
    w.write(b"CONNECT 127.0.0.1:18080 HTTP/1.1\r\nHost: 127.0.0.1:18080\r\n\r\n"); await w.drain()
    head=await r.readuntil(b"\r\n\r\n"); assert b" 200 " in head.split(b"\r\n")[0], head
    w.write(b"GET /small HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); await w.drain()
    h=await r.readuntil(b"\r\n\r\n"); 
    cl=[int(x.split(b":")[1]) for x in h.split(b"\r\n") if x.lower().startswith(b"content-length")][0]
    await r.readexactly(cl)
    held.append((r,w))
async def main():
    held=[]
    # a few first, to warm the pools
    await asyncio.gather(*(one(i,held) for i in range(50)))
    await asyncio.sleep(1); base=rss(); b0=len(held)
    sem=asyncio.Semaphore(100)
    async def lim(i):
        async with sem: await one(i,held)
    t=time.time()
    await asyncio.gather(*(lim(i) for i in range(N)))
    await asyncio.sleep(2)
    after=rss()
    print(f"held={len(held)} rss_before_kib={base} rss_after_kib={after} kib_per_tunnel={(after-base)/(len(held)-b0):.1f} setup_s={time.time()-t:.1f}")
    for r,w in held: w.close()
asyncio.run(main())
