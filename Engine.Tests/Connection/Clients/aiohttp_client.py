import sys, ssl, asyncio, aiohttp
from urllib.parse import urlsplit
proxy, wrong, socks, http, https, bad, body, tlsproxy, ca = sys.argv[1:10]
data = open(body, "rb").read()

def split(url):
    u = urlsplit(url)
    return f"{u.scheme}://{u.hostname}:{u.port}", aiohttp.BasicAuth(u.username, u.password)

async def main():
    purl, auth = split(proxy)
    wurl, wauth = split(wrong)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
        async with s.get(http + "/small", proxy=purl, proxy_auth=auth) as r:
            print("http", r.status)
        async with s.get(https + "/small", proxy=purl, proxy_auth=auth, ssl=False) as r:
            print("https", r.status)
        async with s.post(http + "/echo", data=data, proxy=purl, proxy_auth=auth) as r:
            print("post", r.status, r.headers.get("X-Body-Length"))
        async with s.get(http + "/small", proxy=wurl, proxy_auth=wauth) as r:
            print("wrongkey", r.status)
        async with s.get(bad, proxy=purl, proxy_auth=auth) as r:
            print("unresolvable", r.status, r.headers.get("X-Proxy-Error"))
        # TLS to the proxy, verified against the root only (aiohttp 3.8 speaks no TLS inside it: a plain target).
        turl, tauth = split(tlsproxy)
        async with s.get(http + "/small", proxy=turl, proxy_auth=tauth, ssl=ssl.create_default_context(cafile=ca)) as r:
            print("tlsproxy", r.status)

asyncio.run(main())
